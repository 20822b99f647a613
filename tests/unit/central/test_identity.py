"""The §1.5 validator: real-looking NIPs and NI PPPKs pass, each broken field is named."""

from __future__ import annotations

from datetime import date

import pytest

from central.identity import (
    EmploymentType,
    InvalidIdentity,
    NumberKind,
    Sex,
    check_number,
    format_nip,
    lookup_forms,
    mask,
    normalize,
    parse_legacy_nip,
    parse_local,
    parse_nip,
)

TODAY = date(2026, 6, 1)
PNS = "19860926 201505 1 001"  # §1.1, as people write it
PPPK = "200012312024211001"  # §1.2, muzhawir/indonesian_id
PPPK_PW = "199009132025242014"  # §1.2, a paruh waktu example


def test_normalize_strips_spaces_dots_hyphens() -> None:
    assert normalize("19860926 201505 1 001") == "198609262015051001"
    assert normalize("19860926.201505.1.001") == "198609262015051001"
    assert normalize(" 19860926-201505-1-001\t") == "198609262015051001"


def test_pns_nip_parts() -> None:
    p = parse_nip(PNS, today=TODAY)
    assert p.number == "198609262015051001"
    assert p.kind is NumberKind.PNS
    assert p.birth_date == date(1986, 9, 26)
    assert (p.tmt_year, p.tmt_month, p.tmt) == (2015, 5, "2015-05")
    assert p.contract_code is None
    assert p.sex is Sex.L
    assert p.sequence == 1
    assert p.warnings == ()
    assert format_nip(p.number) == PNS


def test_ni_pppk_parts() -> None:
    p = parse_nip(PPPK, today=TODAY)
    assert p.kind is NumberKind.PPPK
    assert p.birth_date == date(2000, 12, 31)
    assert (p.tmt_year, p.tmt_month, p.tmt) == (2024, None, "2024")
    assert p.contract_code == 1
    assert (p.sex, p.sequence) == (Sex.L, 1)
    assert p.warnings == ()


def test_ni_pppk_paruh_waktu() -> None:
    p = parse_nip(PPPK_PW, today=TODAY)
    assert (p.kind, p.tmt_year, p.contract_code, p.sex, p.sequence) == (
        NumberKind.PPPK,
        2025,
        4,
        Sex.P,
        14,
    )


@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        ("19861331 201505 1 001", "birth_date", "tanggal lahir 19861331 tidak valid (birth date"),
        ("19860230 201505 1 001", "birth_date", "tanggal lahir 19860230 tidak valid"),
        ("19860926 201513 1 001", "tmt_month", "bulan TMT CPNS 13 tidak valid"),
        ("19860926 201500 1 001", "tmt_month", "(TMT month 00 must be 01-12)"),
        ("19860926 198005 1 001", "tmt_year", "tahun TMT 1980 harus setelah tahun lahir 1986"),
        ("19860926 201505 3 001", "sex", "kode jenis kelamin 3 harus 1 atau 2 (sex code 3"),
        ("19860926 201505 0 001", "sex", "kode jenis kelamin 0 harus 1 atau 2"),
        ("19860926 201505 1 000", "sequence", "nomor urut 000 tidak valid"),
        ("19860926 201535 1 001", "kind_digit", "digit ke-13 3 tidak valid"),
        ("19860926 201595 1 001", "kind_digit", "(digit 13 is 9: must be 0 or 1"),
        ("20001231 2024 20 1 001", "contract_code", "kode perjanjian kerja (digit ke-14) 0"),
        ("19860926 201505 1 01", "length", "panjang NIP 17 digit, harus 18"),
        ("19860926 201505 1 0011", "length", "(NIP has 19 digits, must have 18)"),
        ("130 456 789", "length", "NIP lama 9 digit"),
        ("19860926 2015O5 1 001", "characters", "harus berupa angka"),
        ("", "characters", "harus berupa angka"),
    ],
)
def test_each_broken_field_is_named(text: str, field: str, words: str) -> None:
    with pytest.raises(InvalidIdentity) as caught:
        parse_nip(text, today=TODAY)
    assert caught.value.field == field
    assert words in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_non_ascii_digits_are_not_digits() -> None:
    # str.isdigit() accepts these; a NIP must be ASCII digits only.
    with pytest.raises(InvalidIdentity, match="harus berupa angka"):
        parse_nip("١٩٨٦٠٩٢٦٢٠١٥٠٥١٠٠١", today=TODAY)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("20100101 201601 1 001", "umur pada TMT 2016-01 di bawah 18 tahun"),
        ("19300101 197001 1 001", "tahun lahir 1930 tidak wajar"),
        ("19500101 201501 1 001", "umur pada TMT 2015-01 di atas 60 tahun"),
        ("19860926 202701 1 001", "TMT 2027-01 di masa depan"),
        ("20080101 2025 21 1 001", "umur pada TMT 2025 di bawah 18"),
    ],
)
def test_plausibility_gives_warnings_not_errors(text: str, words: str) -> None:
    parsed = parse_nip(text, today=TODAY)
    assert any(words in w for w in parsed.warnings), parsed.warnings


def test_pppk_age_uses_the_kindest_day_of_the_tmt_year() -> None:
    # Born 31 Dec 2006: 18 on the last day of 2024, so a 2024 NI PPPK is plausible.
    assert parse_nip("20061231 2024 21 1 001", today=TODAY).warnings == ()


def test_legacy_nip() -> None:
    assert parse_legacy_nip("130 456 789") == "130456789"
    with pytest.raises(InvalidIdentity, match="harus 9 digit"):
        parse_legacy_nip("13045678")


@pytest.mark.parametrize("text", ["PTT-2019-001", "thl/dlh/12", "K 12 345", "2019.001"])
def test_local_register_numbers(text: str) -> None:
    assert parse_local(text) == text.upper().replace(" ", "")


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("AB", "local_format"),  # too short
        ("-PTT1", "local_format"),  # must start with a letter or digit
        ("PTT#1", "local_format"),
        ("5371 0412 8601 0003", "local_format"),  # a NIK: personal data, never a staff number
        ("19860926 201505 1 001", "employment_type"),  # has a BKN number: not NON_ASN
    ],
)
def test_bad_local_numbers(text: str, field: str) -> None:
    with pytest.raises(InvalidIdentity) as caught:
        parse_local(text)
    assert caught.value.field == field


def test_local_pattern_is_configurable() -> None:
    assert parse_local("HON-7", pattern=r"^HON-\d+$") == "HON-7"
    with pytest.raises(InvalidIdentity, match="tidak sesuai format"):
        parse_local("PTT-7", pattern=r"^HON-\d+$")


def test_check_number_matches_the_employment_type() -> None:
    assert check_number(PNS, EmploymentType.CPNS, today=TODAY).kind is NumberKind.PNS
    assert check_number(PPPK_PW, EmploymentType.PPPK_PW, today=TODAY).kind is NumberKind.PPPK
    assert check_number("ptt-1", EmploymentType.NON_ASN).number == "PTT-1"
    with pytest.raises(InvalidIdentity, match="tidak cocok dengan nomor berformat NI PPPK") as c:
        check_number(PPPK, EmploymentType.PNS, today=TODAY)
    assert c.value.field == "employment_type"
    with pytest.raises(InvalidIdentity, match="NIP PNS"):
        check_number(PNS, EmploymentType.PPPK, today=TODAY)


def test_lookup_forms_and_mask() -> None:
    assert lookup_forms("19860926 201505 1 001") == ["198609262015051001"]
    assert lookup_forms("2019.001") == ["2019.001", "2019001"]
    assert lookup_forms("ptt-1") == ["PTT-1"]
    assert mask("198609262015051001") == "…001"
    assert "1986" not in mask("198609262015051001")
