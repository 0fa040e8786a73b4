"""Forms of the trust site's public pages."""

from __future__ import annotations

from django import forms


class SearchForm(forms.Form):
    q = forms.CharField(
        label="Search the knowledge base", max_length=200, required=False
    )


class SubscribeForm(forms.Form):
    email = forms.EmailField(label="Your e-mail address", max_length=254)


class VoteForm(forms.Form):
    helpful = forms.ChoiceField(choices=[("yes", "Yes"), ("no", "No")])


class DocumentationReportForm(forms.Form):
    """Anonymous readers give a name and address if they like; logged-in readers'
    come from their account. ``website`` is a honeypot: people leave it empty (it is
    hidden from them), form-filling robots fill it."""

    body = forms.CharField(
        label="What is wrong or missing?",
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    name = forms.CharField(label="Your name (optional)", max_length=150, required=False)
    email = forms.EmailField(
        label="Your e-mail, if you would like an answer (optional)", required=False
    )
    website = forms.CharField(
        label="Leave this field empty", required=False, max_length=200
    )

    def __init__(self, *args, identified: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if identified:
            del self.fields["name"]
            del self.fields["email"]

    def clean_body(self) -> str:
        body = self.cleaned_data["body"].strip()
        if len(body) < 10:
            raise forms.ValidationError("Please say in a sentence what is wrong.")
        return body

    def clean_website(self) -> str:
        if self.cleaned_data["website"]:
            raise forms.ValidationError("This field must be left empty.")
        return ""
