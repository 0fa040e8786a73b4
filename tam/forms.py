"""Forms of the TAM pages: they shape input; ``tam.services`` applies the rules."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from django import forms

from tam.models import Activity, ChangeOrder, Meeting


class TimeEntryForm(forms.Form):
    """An agent logs time from a ticket page."""

    worked_on = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    minutes = forms.IntegerField(min_value=1, max_value=24 * 60)
    activity = forms.ChoiceField(choices=Activity.choices)
    change_order = forms.ModelChoiceField(
        queryset=ChangeOrder.objects.none(),
        required=False,
        help_text="Required for out-of-scope work.",
    )
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)

    def __init__(self, *args, contract=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if contract is not None:
            self.fields["change_order"].queryset = contract.change_orders.filter(
                status__in=[ChangeOrder.Status.APPROVED, ChangeOrder.Status.COMPLETED]
            )


class MeetingRequestForm(forms.Form):
    """A customer or an agent asks for a meeting, in the customer's local time."""

    title = forms.CharField(max_length=200)
    mode = forms.ChoiceField(choices=Meeting.Mode.choices, initial=Meeting.Mode.REMOTE)
    day = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    start = forms.TimeField(widget=forms.TimeInput(attrs={"type": "time"}))
    duration_minutes = forms.IntegerField(min_value=15, max_value=8 * 60, initial=60)
    location = forms.CharField(max_length=200, required=False)
    country = forms.CharField(
        max_length=2,
        required=False,
        help_text="On-site meetings: two-letter country code, e.g. US or GB.",
    )

    def starts_at(self, tz: str) -> datetime:
        data = self.cleaned_data
        return datetime.combine(data["day"], data["start"], tzinfo=ZoneInfo(tz))
