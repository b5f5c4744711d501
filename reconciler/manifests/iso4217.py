"""The active ISO 4217 alphabetic codes (currencies, funds and precious metals).

Table A.1 as published 2026-01-01 (178 codes): XCG replaced ANG (2025), ZWG
replaced ZWL (2024), XAD was added (2025); BGN, CUC and SLL are historic. A
pricing ``currency`` must be one of these, so a typo such as ``USS`` or a
withdrawn code such as ``HRK`` is caught before it reaches the catalog.
"""

from __future__ import annotations

# A table of words reads (and diffs) better than 178 quoted strings one per line.
ISO_4217_CODES: frozenset[str] = frozenset(
    """
    AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BHD BIF BMD BND BOB BOV BRL BSD
    BTN BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUP CVE CZK DJF DKK
    DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF
    IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP
    LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD
    NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD
    SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD
    TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST XAD XAF XAG XAU XBA
    XBB XBC XBD XCD XCG XDR XOF XPD XPF XPT XSU XTS XUA XXX YER ZAR ZMW ZWG
    """.split()  # noqa: SIM905
)

# Withdrawn codes a price list may still carry, and the code that replaced each.
WITHDRAWN_CODES: dict[str, str] = {
    **dict.fromkeys(
        ["SIT", "CYP", "MTL", "SKK", "EEK", "LVL", "LTL", "HRK", "BGN"], "EUR"
    ),  # joined the euro
    "ANG": "XCG",
    "ZWL": "ZWG",
    "SLL": "SLE",
    "CUC": "CUP",
    "VEF": "VES",
    "MRO": "MRU",
    "STD": "STN",
    "BYR": "BYN",
    "GHC": "GHS",
    "MZM": "MZN",
    "TRL": "TRY",
    "ROL": "RON",
    "AZM": "AZN",
    "TMM": "TMT",
    "SDD": "SDG",
    "ZMK": "ZMW",
}
