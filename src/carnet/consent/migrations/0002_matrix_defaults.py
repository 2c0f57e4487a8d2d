"""Load the default profession × category matrix from matrix.json (operators edit it later)."""

from django.db import migrations


def load(apps, schema_editor):
    from carnet.consent.matrix import matrix_cells

    CategoryAccess = apps.get_model("consent", "CategoryAccess")
    for profession, category, allowed in matrix_cells():
        CategoryAccess.objects.update_or_create(
            profession=profession,
            category=category,
            defaults={"allowed": allowed, "updated_by": "matrix.json"},
        )


class Migration(migrations.Migration):
    dependencies = [("consent", "0001_initial")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
