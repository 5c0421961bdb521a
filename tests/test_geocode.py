"""Postcodes and places typed by families, against the real postcode directory and place names."""

import pytest

from directory.geocode import LocateError, locate, parse_postcode


@pytest.mark.parametrize("typed", ["tf1 1aa", "TF11AA", " TF1  1AA ", "Tf1 1Aa"])
def test_any_case_or_spacing_finds_the_postcode(areas, typed):
    loc = locate(typed, areas.postcodes, areas.places)
    assert (loc.label, loc.precision) == ("TF1 1AA", "postcode")
    assert (loc.x, loc.y) == (364968.0, 311472.0)  # its NSPL grid reference


@pytest.mark.parametrize(
    "typed, message",
    [
        ("TF1 1A#", "'#': postcodes only have letters and digits"),
        ("TF11 1AAA", "too long for a postcode"),
        ("TF1 1AAA", "The second part of the postcode, “1AAA”, should be a digit then two letters"),
        ("TF1 AAA", "The second part of the postcode, “AAA”, should be a digit then two letters"),
        ("TF1 1CI", "has CI: the letters C, I, K, M, O and V are never used there"),
        ("QQ1 1AA", "The first part of the postcode, “QQ1”, is not a postcode district"),
        ("12345", "does not start like a postcode"),
        ("T11A", "too short for a full postcode"),
    ],
)
def test_malformed_postcodes_say_which_part_is_wrong(typed, message):
    with pytest.raises(LocateError, match=message) as e:
        parse_postcode(typed)
    assert e.value.kind == "malformed"


def test_district_and_sector_searches(areas):
    assert locate("TF1", areas.postcodes, areas.places).precision == "postcode district"
    sector = locate("TF1 1", areas.postcodes, areas.places)
    assert sector.precision == "postcode sector" and sector.label.startswith("TF1 1")


def test_postcodes_outside_the_old_nspl_areas_are_exact(areas):
    # SW1A 1AA (Buckingham Palace) was outside the 9-area NSPL; Code-Point Open has every English postcode
    loc = locate("SW1A 1AA", areas.postcodes, areas.places)
    assert (loc.label, loc.precision, loc.note) == ("SW1A 1AA", "postcode", "")
    assert (loc.x, loc.y) == (529090.0, 179645.0)  # its Code-Point grid reference (TQ 290 796)
    assert len(areas.postcodes.areas) >= 100 and areas.postcodes.national


def test_unknown_district_says_so(areas):
    with pytest.raises(LocateError, match="T1 is not a postcode district in England") as e:
        locate("T1 1AA", areas.postcodes, areas.places)
    assert e.value.kind == "unknown_postcode"


def test_places_by_name(areas):
    la = locate("Telford and Wrekin", areas.postcodes, areas.places)
    assert la.precision == "local authority" and la.code == "E06000020"
    town = locate("harrogate", areas.postcodes, areas.places)  # a 2021 district name, now a town
    assert town.precision == "town or former district"
    lsoa = locate("E01014145", areas.postcodes, areas.places)
    assert lsoa.precision == "LSOA" and lsoa.code == "E01014145"
    by_name = locate("Telford and Wrekin 001A", areas.postcodes, areas.places)
    assert by_name.precision == "LSOA"


def test_ambiguous_and_unknown_places(areas):
    with pytest.raises(LocateError) as e:
        locate("Central", areas.postcodes, areas.places)  # a ward name in many authorities
    assert e.value.kind == "ambiguous" and len(e.value.candidates) > 3
    assert all("(ward)" in c.label for c in e.value.candidates)
    with pytest.raises(LocateError, match="couldn't find a place called") as e:
        locate("Atlantis upon Sea", areas.postcodes, areas.places)
    assert e.value.kind == "no_place"
