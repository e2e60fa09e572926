"""The pricing engine gives the recorded outputs on every case of the regression corpus
(`pricing_corpus.py`: random tariffs with every restriction kind, sessions over midnight and DST
nights, step sizes, min/max prices, grace, suspended periods, several currencies)."""

from tests.billing_app.pricing_corpus import CASES, price_case, read_corpus


def test_every_corpus_case_prices_as_recorded():
    corpus = read_corpus()
    assert len(corpus) == CASES
    differences = []
    for number, case in enumerate(corpus, start=1):
        got = price_case(case["tariff"], case["session"])
        if got != case["expected"]:
            differences.append(f"case {number}: expected {case['expected']}\n  got {got}")
    assert not differences, f"{len(differences)} of {len(corpus)} cases differ:\n" + "\n".join(differences[:5])
