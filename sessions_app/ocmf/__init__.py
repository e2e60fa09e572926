"""Signed meter values in OCMF (Open Charge Metering Format, S.A.F.E. e.V.), as German calibration law
(Mess- und Eichrecht) wants them checked: `decoding` (what a charger sends -> the plain OCMF record and
a normalised public key), `verification` (a session's signed readings against the meter's key, pure) and
`transparency` (the XML container the S.A.F.E. Transparenzsoftware opens). Parsing, signatures and the
Transparenzsoftware's compliance rules come from `pyocmf`."""
