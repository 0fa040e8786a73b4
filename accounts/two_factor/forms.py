"""The one field every two-factor page asks for: a code."""

from django import forms


class CodeForm(forms.Form):
    """A code from the authenticator app (or, where accepted, a recovery code)."""

    code = forms.CharField(
        label="Code",
        max_length=32,
        strip=True,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "autocapitalize": "off",
                "spellcheck": "false",
                "autofocus": True,
                "size": 12,
            }
        ),
        error_messages={"required": "Enter a code."},
    )
