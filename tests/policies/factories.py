import factory
from factory.django import DjangoModelFactory

from policies.models import (
    BusinessCalendar,
    Holiday,
    OpeningHours,
    Severity,
    SLOTarget,
    SupportPlan,
)


class BusinessCalendarFactory(DjangoModelFactory[BusinessCalendar]):
    class Meta:
        model = BusinessCalendar

    slug = factory.Sequence(lambda n: f"calendar-{n}")
    name = factory.Sequence(lambda n: f"Calendar {n}")
    kind = BusinessCalendar.Kind.HOURS
    time_zone = "America/Los_Angeles"


class OpeningHoursFactory(DjangoModelFactory[OpeningHours]):
    class Meta:
        model = OpeningHours

    calendar = factory.SubFactory(BusinessCalendarFactory)
    weekday = 0
    opens = "07:00"
    closes = "19:00"


class HolidayFactory(DjangoModelFactory[Holiday]):
    class Meta:
        model = Holiday

    calendar = factory.SubFactory(BusinessCalendarFactory)


class SupportPlanFactory(DjangoModelFactory[SupportPlan]):
    class Meta:
        model = SupportPlan

    slug = factory.Sequence(lambda n: f"plan-{n}")
    name = factory.Sequence(lambda n: f"Plan {n}")


class SeverityFactory(DjangoModelFactory[Severity]):
    class Meta:
        model = Severity

    plan = factory.SubFactory(SupportPlanFactory)
    level = 1
    name = factory.LazyAttribute(lambda s: f"Severity {s.level}")


class SLOTargetFactory(DjangoModelFactory[SLOTarget]):
    class Meta:
        model = SLOTarget

    plan = factory.SubFactory(SupportPlanFactory)
    response_minutes = 60
    response_calendar = factory.SubFactory(
        BusinessCalendarFactory, kind=BusinessCalendar.Kind.ALWAYS
    )
