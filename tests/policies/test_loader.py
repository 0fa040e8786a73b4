"""Policy packs: loaded whole or not at all, idempotent, and a malformed file is
refused with a message that names the file and the field."""

import shutil
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from policies import loader
from policies.models import (
    BusinessCalendar,
    Severity,
    SeverityCap,
    SLOTarget,
    SupportPlan,
)

pytestmark = pytest.mark.django_db

ALL_PACKS = {
    "janrain-platinum",
    "ironio-limited",
    "ironio-standard",
    "ironio-premium",
    "ironio-247",
    "jumpcloud",
    "jelastic",
}


def _history_rows() -> int:
    return sum(
        model.history.count()
        for model in (BusinessCalendar, SupportPlan, Severity, SLOTarget, SeverityCap)
    )


def test_all_seven_packs_load_with_their_plans():
    out = StringIO()

    call_command("load_policy_packs", stdout=out)

    assert set(SupportPlan.objects.values_list("slug", flat=True)) == ALL_PACKS
    assert SupportPlan.objects.get(slug="janrain-platinum").severities.count() == 3
    assert SupportPlan.objects.get(slug="jelastic").severities.count() == 4
    assert SupportPlan.objects.get(slug="jumpcloud").severities.count() == 3
    assert not SupportPlan.objects.get(slug="ironio-premium").severities.exists()
    assert "janrain-platinum: " in out.getvalue()


def test_plan_entitlements_and_rules_come_from_the_seeds():
    loader.load_policy_packs()
    plans = {plan.slug: plan for plan in SupportPlan.objects.all()}

    assert plans["janrain-platinum"].default_severity.level == 3
    assert plans["janrain-platinum"].upgrade_needs_justification
    assert plans["jelastic"].downgrade_needs_customer_agreement
    assert plans["jelastic"].default_severity.level == 4
    assert plans["ironio-247"].channels == ["web", "e-mail", "chat", "phone"]
    assert plans["ironio-premium"].channels == ["web", "e-mail", "chat"]
    assert plans["ironio-limited"].business_calendar is None
    assert plans["ironio-247"].business_calendar.slug == "ironio-premium-hours"
    assert plans["ironio-247"].includes_tam
    assert plans["ironio-247"].includes_roadmap_insight
    assert not plans["ironio-premium"].includes_tam
    ranks = [p.slug for p in SupportPlan.objects.filter(slug__startswith="ironio")]
    assert ranks == [
        "ironio-247",
        "ironio-premium",
        "ironio-standard",
        "ironio-limited",
    ]
    janrain_sev1 = plans["janrain-platinum"].severities.get(level=1)
    assert janrain_sev1.requires_customer_contact
    assert "Platform services unavailable to all users." in (
        janrain_sev1.characteristic_list
    )


def test_jelastic_caps_dot_net_and_ms_sql_at_level_2():
    loader.load_policy_packs(["jelastic"])

    caps = {cap.component: cap for cap in SeverityCap.objects.all()}

    assert set(caps) == {".Net", "MS-SQL"}
    assert caps[".Net"].refuses(1)
    assert not caps[".Net"].refuses(2)


def test_loading_twice_changes_nothing_and_writes_no_history():
    loader.load_policy_packs()
    before = _history_rows()
    out = StringIO()

    call_command("load_policy_packs", stdout=out)

    assert _history_rows() == before
    assert all(line.endswith("unchanged") for line in out.getvalue().splitlines())


def test_an_edited_plan_is_restored_by_its_pack_with_history():
    loader.load_policy_packs(["jelastic"])
    target = SLOTarget.objects.get(plan__slug="jelastic", severity__level=1)
    target.response_minutes = 999
    target.save()

    reports = loader.load_policy_packs(["jelastic"])

    target.refresh_from_db()
    assert target.response_minutes == 120
    assert reports["jelastic"].updated == 1
    assert target.history.count() == 3


def test_loading_named_packs_loads_only_those():
    call_command("load_policy_packs", "jumpcloud", "jelastic", stdout=StringIO())

    assert set(SupportPlan.objects.values_list("slug", flat=True)) == {
        "jumpcloud",
        "jelastic",
    }


def test_an_unknown_pack_is_refused_naming_the_available_ones():
    with pytest.raises(CommandError, match="unknown pack 'gold'; available: "):
        call_command("load_policy_packs", "gold", stdout=StringIO())
    assert not SupportPlan.objects.exists()


@pytest.fixture
def pack_dir(tmp_path, monkeypatch) -> Path:
    for path in loader.PACKS_DIR.glob("*.toml"):
        shutil.copy(path, tmp_path / path.name)
    monkeypatch.setattr(loader, "PACKS_DIR", tmp_path)
    return tmp_path


def _break(pack_dir: Path, name: str, old: str, new: str) -> None:
    path = pack_dir / name
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize(
    ("name", "old", "new", "message"),
    [
        (
            "jelastic.toml",
            'response = "2h"',
            'response = "2 hours"',
            "jelastic.toml: targets[0].response: '2 hours' is not a duration",
        ),
        (
            "jumpcloud.toml",
            'time_zone = "America/Denver"',
            'time_zone = "Mountain"',
            "jumpcloud.toml: calendars[0].time_zone: 'Mountain' is not an IANA",
        ),
        (
            "jumpcloud.toml",
            '"09:00-17:00"], tue',
            '"17:00-09:00"], tue',
            "jumpcloud.toml: calendars[0].hours.mon: '17:00-09:00' is not an interval",
        ),
        (
            "janrain-platinum.toml",
            "default_severity = 3",
            "default_severity = 5",
            "janrain-platinum.toml: default_severity: level 5 is not in severities",
        ),
        (
            "jelastic.toml",
            "max_level = 2",
            "max_level = 7",
            "jelastic.toml: caps[0].max_level: level 7 is not in severities",
        ),
        (
            "ironio-premium.toml",
            'response_calendar = "ironio-premium-hours"',
            'response_calendar = "premium"',
            "ironio-premium.toml: targets[0].response_calendar: 'premium' is not in",
        ),
        (
            "ironio-premium.toml",
            'off_hours_response = "6h"',
            'off_hours_response = "1bd"',
            "ironio-premium.toml: targets[0].off_hours_response: must be in minutes",
        ),
        (
            "ironio-limited.toml",
            "prioritisation_rank = 0",
            "prioritisation_rank = 0\nprioritization_rank = 1",
            "ironio-limited.toml: prioritization_rank: is not a known field",
        ),
        (
            "ironio-limited.toml",
            'slug = "ironio-limited"',
            'slug = "ironio-lite"',
            "ironio-limited.toml: slug: 'ironio-lite' must match the file name",
        ),
        (
            "jelastic.toml",
            "level = 1",
            'level = "one"',
            "jelastic.toml: severities[0].level: must be a whole number",
        ),
        (
            "jelastic.toml",
            "[[targets]]",
            "[[targets",
            "jelastic.toml: not valid TOML",
        ),
        (
            "ironio-247.toml",
            'time_zone = "UTC"',
            'time_zone = "Europe/London"',
            "calendars: '24x7' differs from its definition in ironio-247.toml",
        ),
    ],
)
def test_a_malformed_pack_is_refused_naming_file_and_field_and_nothing_is_written(
    pack_dir, name, old, new, message
):
    _break(pack_dir, name, old, new)

    with pytest.raises(CommandError) as excinfo:
        call_command("load_policy_packs", stdout=StringIO())

    assert message in str(excinfo.value)
    assert "\n" not in str(excinfo.value)
    assert not SupportPlan.objects.exists()
    assert not BusinessCalendar.objects.exists()


def test_a_broken_pack_leaves_an_earlier_load_untouched(pack_dir):
    loader.load_policy_packs()
    before = _history_rows()
    _break(pack_dir, "jelastic.toml", 'response = "24h"', 'response = "24 hours"')

    with pytest.raises(loader.PackError):
        loader.load_policy_packs()

    assert _history_rows() == before
    assert (
        SLOTarget.objects.get(plan__slug="jelastic", severity__level=4).response_minutes
        == 24 * 60
    )


@pytest.mark.parametrize(
    ("component", "level", "refused"),
    [(".Net", 1, True), (".net", 1, True), ("MS-SQL", 2, False), ("Java", 1, False)],
)
def test_filing_above_a_cap_is_refused_with_a_message_naming_it(
    component, level, refused
):
    from policies.rules import severity_cap_error

    loader.load_policy_packs(["jelastic"])
    plan = SupportPlan.objects.get(slug="jelastic")

    message = severity_cap_error(plan, component, plan.severities.get(level=level))

    assert bool(message) is refused
    if refused:
        assert "at most Level 2" in message
        assert ".Net" in message
