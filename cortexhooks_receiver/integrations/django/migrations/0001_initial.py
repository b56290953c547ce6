"""Create the table of the ORM dedup store."""

from __future__ import annotations

from typing import Any

from django.db import migrations, models


class Migration(migrations.Migration):  # type: ignore[misc]
    """Initial migration: the ``DeliveryClaim`` table."""

    initial = True

    dependencies: list[Any] = []

    operations = [
        migrations.CreateModel(
            name="DeliveryClaim",
            fields=[
                (
                    "key",
                    models.CharField(max_length=200, primary_key=True, serialize=False),
                ),
                ("done", models.BooleanField(default=False)),
                ("token", models.CharField(max_length=100)),
                ("expires_at", models.FloatField(db_index=True)),
            ],
            options={
                "db_table": "cortexhooks_delivery_claim",
                "verbose_name": "webhook delivery claim",
            },
        ),
    ]
