"""What the browser tests check on a page as it is now: axe-core's serious and critical WCAG 2.x A/AA
violations (axe vendored in tests/e2e/vendor, run inside chromium), a page wider than the screen, raw Decimals
and server errors in what a reader sees."""
from __future__ import annotations

import re
from pathlib import Path

AXE = (Path(__file__).resolve().parent / "vendor" / "axe.min.js").read_text()
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING = {"serious", "critical"}
PHONE = {"width": 375, "height": 740}
DESKTOP = {"width": 1280, "height": 900}

RAW_DECIMAL = re.compile(r"\d\.\d{5,}")
SERVER_ERROR = re.compile(r"Traceback \(most recent call last\)|Server Error \(500\)|Exception Value:")


def axe_violations(page, *, contrast: bool = True) -> list[dict]:
    """axe-core's serious and critical violations of the page as it is now (`contrast=False`: all but the
    colour contrast rule, the slowest, for a second look at a page whose colours were checked)."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=AXE)
    result = page.evaluate(
        """([tags, contrast]) => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations'],
                                                    rules: {'color-contrast': {enabled: contrast}}})""",
        [WCAG_TAGS, contrast])
    return [
        {"id": v["id"], "impact": v["impact"], "help": v["help"],
         "nodes": [node["target"] for node in v["nodes"]][:5]}
        for v in result["violations"] if v["impact"] in BLOCKING
    ]


def sideways_overflow(page) -> str:
    """Empty when nothing scrolls sideways; else by how much, and the outermost elements that stick out."""
    return page.evaluate("""() => {
        const over = document.documentElement.scrollWidth - window.innerWidth;
        if (over <= 0) return "";
        const out = [...document.body.querySelectorAll("*")].filter(el => {
            const box = el.getBoundingClientRect();
            return box.right > window.innerWidth + 0.5 && !(el.parentElement.getBoundingClientRect().right
                > window.innerWidth + 0.5);
        }).slice(0, 3).map(el => el.tagName.toLowerCase() + (el.className ? "." + el.className : ""));
        return `${over}px wider than the screen: ${out.join(", ")}`;
    }""")


def page_facts(page, nav: str = "header nav a", sign_out: str = "header form.signout button") -> dict:
    """In one round trip: the text a reader sees, with the values of the form fields (a raw Decimal hides
    there), the labels a screen reader reads (aria-label, title, placeholder, alt), `<html lang>`, how many
    navigation links and sign-out buttons the page has."""
    return page.evaluate("""([nav, signOut]) => ({
        text: (document.body ? document.body.innerText : "") + "\\n" + [...document.querySelectorAll(
            "input:not([type=hidden]):not([type=password]), textarea, select")].map(
            el => el.tagName === "SELECT" ? (el.selectedOptions[0] || {}).text || "" : el.value).join("\\n"),
        labels: [...document.querySelectorAll("[aria-label], [title], [placeholder], img[alt]")].map(
            el => ["aria-label", "title", "placeholder", "alt"].map(name => el.getAttribute(name) || "").join(" ")
        ).join("\\n"),
        lang: document.documentElement.lang,
        nav: document.querySelectorAll(nav).length,
        signOut: document.querySelectorAll(signOut).length,
    })""", [nav, sign_out])


def text_problems(text: str) -> list[str]:
    """A raw Decimal or a server error in the text a reader sees."""
    found = []
    if raw := RAW_DECIMAL.findall(text):
        found.append(f"raw decimals {raw[:3]}")
    if SERVER_ERROR.search(text):
        found.append("server error text")
    return found
