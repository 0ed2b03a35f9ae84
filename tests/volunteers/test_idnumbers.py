"""GB 11643 ID numbers: checksum, dates, legacy numbers, masking. Pure: no app."""
from datetime import date

import pytest

from volunteer_hub.volunteers.idnumbers import (
    IdNumberError, check_char, mask, parse_mainland_id, validate_other_id,
)

VALID = "11010519491231002X"  # the example from GB 11643 and DOMAIN.md


def test_valid_example_gives_birth_date_and_gender():
    parsed = parse_mainland_id(VALID)
    assert parsed.birth_date == date(1949, 12, 31)
    assert parsed.gender == "female"  # sequence 002 is even


def test_lowercase_x_is_accepted_and_normalised():
    assert parse_mainland_id(VALID.lower()).number == VALID


def test_spaces_are_ignored():
    assert parse_mainland_id("110105 19491231 002X").number == VALID


@pytest.mark.parametrize("wrong", ["110105194912310021", "110105194912310020"])
def test_wrong_check_digit_is_refused(wrong):
    with pytest.raises(IdNumberError) as error:
        parse_mainland_id(wrong)
    assert error.value.code == "ID_CHECKSUM"


def test_impossible_date_is_refused_even_with_a_correct_check_digit():
    first17 = "11010519490230001"  # 30 February
    with pytest.raises(IdNumberError) as error:
        parse_mainland_id(first17 + check_char(first17))
    assert error.value.code == "ID_BIRTH_DATE_INVALID"


def test_future_birth_date_is_refused():
    first17 = "11010520990101001"
    with pytest.raises(IdNumberError) as error:
        parse_mainland_id(first17 + check_char(first17), today=date(2026, 11, 23))
    assert error.value.code == "ID_BIRTH_DATE_INVALID"


def test_legacy_15_digit_number_is_refused_with_its_own_code():
    with pytest.raises(IdNumberError) as error:
        parse_mainland_id("110105491231002")
    assert error.value.code == "ID_LEGACY_15"


@pytest.mark.parametrize("bad,code", [("1101051949123100", "ID_LENGTH"),
                                      ("11010519491231002Y", "ID_FORMAT"),
                                      ("X1010519491231002X", "ID_FORMAT")])
def test_malformed_numbers(bad, code):
    with pytest.raises(IdNumberError) as error:
        parse_mainland_id(bad)
    assert error.value.code == code


def test_mask_keeps_area_code_and_last_two():
    assert mask(VALID) == "110105**********2X"


def test_mask_of_a_passport_hides_the_middle():
    assert mask("E12345678") == "E1*****78"


def test_other_id_types_accept_letters_and_digits_only():
    assert validate_other_id(" e1234567 ") == "E1234567"
    with pytest.raises(IdNumberError):
        validate_other_id("E12-34")
