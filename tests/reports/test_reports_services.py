"""Report numbers against hand-built data (tests/reports/builders.py)."""
from __future__ import annotations

import pytest

from tests.reports import builders
from volunteer_hub.errors import Forbidden, ValidationFailed
from volunteer_hub.reports import services
from volunteer_hub.reports.months import Month, months_between

FIRST_QUARTER = months_between(Month(2026, 1), Month(2026, 3))


@pytest.fixture
def world(db, tree):
    return builders.build(tree)


def _by_month(report):
    return {str(row.month): row for row in report.months}


def test_community_hours_by_type_active_volunteers_and_registrations(world):
    report = services.monthly_report(world.tree["a"], FIRST_QUARTER, by=None)
    rows = _by_month(report)
    assert list(rows) == ["2026-01", "2026-02", "2026-03"]
    jan, feb, mar = rows["2026-01"], rows["2026-02"], rows["2026-03"]
    # pending and rejected records and the B activity are not A's hours
    assert {k: v for k, v in jan.minutes_by_type.items() if v} == {"elderly_care": 210}
    # 07:00 on 1 March in Beijing is still February in UTC: March, and grid A1 is in A
    assert {k: v for k, v in mar.minutes_by_type.items() if v} == {"community": 180,
                                                                    "environment": 60}
    assert (jan.active_volunteers, feb.active_volunteers, mar.active_volunteers) == (2, 0, 2)
    assert (jan.new_registrations, feb.new_registrations, mar.new_registrations) == (1, 0, 1)
    assert [r.registered_volunteers for r in (jan, feb, mar)] == [2, 2, 3]
    assert report.total_minutes == 450
    assert report.distinct_active_volunteers == 2
    assert report.types_with_hours == ["elderly_care", "community", "environment"]


def test_a_month_without_anything_is_all_zero(world):
    feb = _by_month(services.monthly_report(world.tree["a"], FIRST_QUARTER, by=None))["2026-02"]
    assert feb.total_minutes == 0 and set(feb.minutes_by_type.values()) == {0}
    assert (feb.active_volunteers, feb.active_residents, feb.new_registrations,
            feb.beneficiaries_served, feb.participation_rate) == (0, 0, 0, 0, 0.0)


def test_participation_counts_residents_who_served_anywhere(world):
    rows = _by_month(services.monthly_report(world.tree["a"], FIRST_QUARTER, by=None))
    # v3 lives in A and served in B in January: a participating resident of A
    assert rows["2026-01"].active_residents == 3
    assert rows["2026-01"].participation_rate == pytest.approx(3 / 1000)
    assert rows["2026-03"].participation_rate == pytest.approx(2 / 1000)


def test_no_population_recorded_means_no_rate(world):
    rows = _by_month(services.monthly_report(world.tree["b"], FIRST_QUARTER, by=None))
    jan = rows["2026-01"]
    assert jan.minutes_by_type["culture"] == 180 and jan.active_volunteers == 2
    assert jan.active_residents == 1 and jan.participation_rate is None


def test_street_sums_its_communities(world):
    jan = _by_month(services.monthly_report(world.tree["street"], FIRST_QUARTER,
                                            by=None))["2026-01"]
    assert jan.total_minutes == 390 and jan.active_volunteers == 4
    assert jan.new_registrations == 2 and jan.registered_volunteers == 3


def test_beneficiaries_served_counts_people_of_tasks_that_took_place(world):
    rows = _by_month(services.monthly_report(world.tree["a"], FIRST_QUARTER, by=None))
    # January: the same person twice counts once, a declined task not at all;
    # March: a cancelled slot does not count, a need without a named person neither
    assert [rows[m].beneficiaries_served for m in ("2026-01", "2026-02", "2026-03")] == [1, 0, 1]


def test_liability_by_age_band(world):
    report = services.liability_report(world.tree["a"], by=None, on=builders.AS_OF)
    bands = {band.band: (band.holders, band.redeemable_minutes, band.group_minutes)
             for band in report.bands}
    assert list(bands) == ["<30", "30-44", "45-59", "60-69", "70+"]
    assert bands == {"<30": (1, 120, 0), "30-44": (0, 0, 0), "45-59": (0, 0, 0),
                     "60-69": (1, 90, 60), "70+": (1, 240, 0)}  # v1 donated 60 of 300
    # v2 turns 60 on the report day: of redemption age; v5 (59) holds nothing
    assert (report.holders_of_redemption_age, report.minutes_of_redemption_age) == (2, 330)
    assert report.pool_minutes == 60
    assert report.total_minutes == 240 + 90 + 60 + 120 + 60


def test_liability_one_day_earlier_moves_the_birthday_holder_down(world):
    from datetime import timedelta

    report = services.liability_report(world.tree["a"], by=None,
                                       on=builders.AS_OF - timedelta(days=1))
    bands = {band.band: band.holders for band in report.bands}
    assert bands["45-59"] == 1 and bands["60-69"] == 0
    assert report.holders_of_redemption_age == 1


def test_liability_of_another_community(world):
    report = services.liability_report(world.tree["b"], by=None, on=builders.AS_OF)
    assert [(b.band, b.holders) for b in report.bands if b.holders] == [("45-59", 1)]
    assert report.pool_minutes == 0


def test_scope(world, make_staff, make_volunteer):
    organizer_b = make_staff(world.tree["b"], "organizer")
    with pytest.raises(Forbidden):
        services.monthly_report(world.tree["a"], FIRST_QUARTER, by=organizer_b)
    with pytest.raises(Forbidden):
        services.liability_report(world.tree["a"], by=organizer_b)
    coordinator = make_staff(world.tree["street"], "coordinator")
    assert services.monthly_report(world.tree["a"], FIRST_QUARTER, by=coordinator).months
    with pytest.raises(Forbidden):
        services.set_resident_population(world.tree["a"], 5, by=coordinator)
    organizer_a = make_staff(world.tree["a"], "organizer")
    services.set_resident_population(world.tree["a"], 2500, by=organizer_a)
    assert world.tree["a"].resident_population == 2500


@pytest.mark.parametrize(("first", "last", "field", "code"), [
    ("2026-13", "2026-12", "from", "REPORT_MONTH_FORMAT"),
    ("2026-1", None, "from", "REPORT_MONTH_FORMAT"),
    ("2026-01", "26-03", "to", "REPORT_MONTH_FORMAT"),
    ("2026-05", "2026-04", "from", "REPORT_RANGE_REVERSED"),
    ("2020-01", "2026-11", "to", "REPORT_RANGE_TOO_LONG"),
])
def test_bad_month_ranges(app, first, last, field, code):
    with app.test_request_context(), pytest.raises(ValidationFailed) as raised:
        services.month_range(first, last)
    assert raised.value.code == code and field in raised.value.errors


def test_default_range_is_twelve_months_up_to_this_one(app):
    with app.test_request_context():
        months = services.month_range(None, "2026-11")
    assert (str(months[0]), str(months[-1]), len(months)) == ("2025-12", "2026-11", 12)
