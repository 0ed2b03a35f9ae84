"""One ID, one account: every spelling of a number is the same number; area codes are real."""
from datetime import date

import pytest

from tests.factories import make_id_number, registration_data, unique_phone
from volunteer_hub.security import decrypt
from volunteer_hub.volunteers.idnumbers import IdNumberError, check_char, parse_mainland_id
from volunteer_hub.volunteers.models import Volunteer

FULL_WIDTH = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


def number_ending_in_x() -> str:
    """A valid ID whose check character is X (so a lowercase x can be tried)."""
    for sequence in range(1, 999, 2):
        number = make_id_number(birth=date(1980, 1, 2), sequence=sequence)
        if number.endswith("X"):
            return number
    raise AssertionError("no sequence gives X")


SPELLINGS = {
    "full-width digits": lambda n: n[:17].translate(FULL_WIDTH) + n[17],
    "Arabic-Indic digits": lambda n: n[:17].translate(ARABIC_INDIC) + n[17],
    "spaces": lambda n: f" {n[:6]} {n[6:14]}\u3000{n[14:]} ",
    "lowercase x": lambda n: n.lower(),
}


def register(client, community, **overrides):
    return client.post("/api/v1/volunteers", json=registration_data(community, **overrides))


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_each_spelling_parses_to_the_ascii_number(spelling):
    number = number_ending_in_x()
    assert parse_mainland_id(SPELLINGS[spelling](number)).number == number


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_another_spelling_of_a_registered_id_is_the_same_account(client, tree, spelling):
    number = number_ending_in_x()
    assert register(client, tree["b"], id_number=number).status_code == 201
    response = register(client, tree["b"], id_number=SPELLINGS[spelling](number))
    assert response.status_code == 409
    assert response.get_json()["error"] == "ID_ALREADY_REGISTERED"


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_the_number_is_stored_in_its_ascii_spelling(client, tree, db, spelling):
    number = number_ending_in_x()
    body = register(client, tree["b"], id_number=SPELLINGS[spelling](number)).get_json()
    volunteer = db.session.get(Volunteer, body["id"])
    assert decrypt(volunteer.id_number_encrypted) == number
    assert body["id_number_masked"] == number[:6] + "*" * 10 + number[-2:]
    assert register(client, tree["b"], id_number=number).status_code == 409


@pytest.mark.parametrize("spelling", ["一一〇一〇五一九四九一二三一〇〇二X",  # Chinese numerals
                                      "11010519491231OO2X",  # letters O for zeros
                                      "11010519491231002X\u200b"])  # a zero-width space
def test_anything_but_ascii_digits_after_normalizing_is_id_format(spelling):
    with pytest.raises(IdNumberError) as error:
        parse_mainland_id(spelling)
    assert error.value.code == "ID_FORMAT"


def test_an_unknown_area_code_is_refused():
    with pytest.raises(IdNumberError) as error:
        parse_mainland_id("000000199001010018")
    assert error.value.code == "ID_REGION"


def test_an_abolished_area_code_is_still_valid():
    first17 = "11010319800102001"  # Chongwen District, merged into Dongcheng in 2010
    assert parse_mainland_id(first17 + check_char(first17)).number.startswith("110103")


def test_region_000000_gets_a_field_message_in_the_users_language(client, tree):
    response = register(client, tree["b"], id_number="000000199001010018",
                        locale="zh_Hans")
    assert response.status_code == 422
    body = response.get_json()
    assert body["error"] == "ID_REGION"
    message = body["errors"]["json"]["id_number"][0]
    assert "GB/T 2260" in message and "行政区划" in message


def test_a_full_width_id_with_a_wrong_check_character_is_still_refused(client, tree):
    number = make_id_number()
    wrong = number[:17].translate(FULL_WIDTH) + ("0" if number[17] != "0" else "1")
    assert register(client, tree["b"], id_number=wrong).get_json()["error"] == "ID_CHECKSUM"


# --- phones ---------------------------------------------------------------------------------

PHONE_SPELLINGS = {
    "full-width digits": lambda p: p.translate(FULL_WIDTH),
    "Arabic-Indic digits": lambda p: p.translate(ARABIC_INDIC),
    "spaces and +86": lambda p: f"+86 {p[:3]} {p[3:7]} {p[7:]}",
    "full-width +86": lambda p: "＋８６" + p.translate(FULL_WIDTH),
}


@pytest.mark.parametrize("spelling", PHONE_SPELLINGS)
def test_another_spelling_of_a_registered_phone_is_the_same_account(client, tree, spelling):
    phone = unique_phone()
    assert register(client, tree["b"], phone=phone).status_code == 201
    response = register(client, tree["b"], phone=PHONE_SPELLINGS[spelling](phone))
    assert response.status_code == 409
    assert response.get_json()["error"] == "PHONE_TAKEN"


@pytest.mark.parametrize("spelling", PHONE_SPELLINGS)
def test_a_phone_is_stored_in_ascii_and_logs_in_with_any_spelling(client, tree, db, spelling):
    phone = unique_phone()
    body = register(client, tree["b"], phone=PHONE_SPELLINGS[spelling](phone)).get_json()
    assert db.session.get(Volunteer, body["id"]).user.phone == phone
    login = client.post("/api/v1/tokens", json={"login": PHONE_SPELLINGS[spelling](phone),
                                                "password": "secret123"})
    assert login.status_code == 201


def test_a_phone_of_other_characters_is_phone_format(client, tree):
    response = register(client, tree["b"], phone="1三8 0013 8000")
    assert response.status_code == 422
    assert response.get_json()["error"] == "PHONE_FORMAT"
