# The new-ticket form's suggestions (issue 14 §4): status components mapped to the
# plans' catalogue entries, and a GIN-indexed title-only search vector so that the
# articles whose title matches are found through an index and only they are ranked.
import importlib

import django.contrib.postgres.indexes
import django.contrib.postgres.search
from django.db import migrations, models

_initial = importlib.import_module("helpdesk.trust.migrations.0001_initial")
AddIndexOn = _initial.AddIndexOn
RunSQLOn = _initial.RunSQLOn

# PostgreSQL: the trigger of 0001 now also keeps Article.search_title (the title
# alone); existing rows are filled once. SQLite searches its FTS5 table (0001), so the
# column stays empty there; adding a nullable column does not rebuild trust_article,
# so the FTS5 triggers of 0001 stay in place.
_FUNCTION = """CREATE OR REPLACE FUNCTION trust_article_search_document()
    RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        NEW.search_document :=
            setweight(to_tsvector('english'::regconfig, coalesce(NEW.title, '')), 'A')
            || setweight(
                to_tsvector('english'::regconfig, coalesce(NEW.body, '')), 'B'
            );
        {title}
        RETURN NEW;
    END
    $$"""
POSTGRESQL_TITLE = [
    _FUNCTION.format(
        title="NEW.search_title := "
        "to_tsvector('english'::regconfig, coalesce(NEW.title, ''));"
    ),
    "UPDATE trust_article SET search_title ="
    " to_tsvector('english'::regconfig, coalesce(title, ''))",
]
POSTGRESQL_TITLE_REVERSE = [_FUNCTION.format(title="")]


class Migration(migrations.Migration):
    dependencies = [
        ("policies", "0003_catalogue_and_lint"),
        ("trust", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="component",
            name="catalogue_entries",
            field=models.ManyToManyField(
                blank=True,
                help_text="The products of the plans' catalogues this component "
                "serves; none: platform-wide, shown to every customer.",
                related_name="status_components",
                to="policies.catalogueentry",
            ),
        ),
        migrations.AddField(
            model_name="article",
            name="search_title",
            field=django.contrib.postgres.search.SearchVectorField(
                editable=False, null=True
            ),
        ),
        RunSQLOn("postgresql", POSTGRESQL_TITLE, POSTGRESQL_TITLE_REVERSE),
        AddIndexOn(
            "postgresql",
            model_name="article",
            index=django.contrib.postgres.indexes.GinIndex(
                fields=["search_title"], name="trust_article_title_search"
            ),
        ),
    ]
