"""The content hash (offers/hashing.py) is stored in the site journal and compared with later
ones: its format must never drift, or every offer would look changed and go again."""

import hashlib
from decimal import Decimal

from offers.hashing import content_hash


def test_the_content_hash_is_the_sha256_of_the_compact_unescaped_json_of_its_fields():
    fields = {
        "name": 'Kubek "Łódź" 😀',
        "description": "<p>a\\b\n\u2028</p>",
        "price": Decimal("12.50"),
        "currency": "PLN",
        "stock": 7,
        "parameters": [("Kolor", "żółty"), ("Rozmiar", "M")],
    }
    text = (
        '["Kubek \\"Łódź\\" 😀","<p>a\\\\b\\n\u2028</p>","12.50","PLN",7,'
        '[["Kolor","żółty"],["Rozmiar","M"]]]'
    )
    assert content_hash(**fields) == hashlib.sha256(text.encode()).hexdigest()
    # Any field changed changes the hash; the parameters' order counts.
    others = [
        {**fields, "price": Decimal("12.5")},
        {**fields, "stock": 8},
        {**fields, "parameters": list(reversed(fields["parameters"]))},
    ]
    assert len({content_hash(**f) for f in [fields, *others]}) == 4
