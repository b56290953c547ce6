"""Create the table of the receipt journal (``CORTEXHOOKS["JOURNAL"] = "django-orm"``)."""

from __future__ import annotations

from typing import Any

from django.db import migrations, models


class Migration(migrations.Migration):  # type: ignore[misc]
    """The ``WebhookReceipt`` table."""

    dependencies: list[Any] = [("cortexhooks", "0001_initial")]

    operations = [
        migrations.CreateModel(
            name="WebhookReceipt",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("received_at", models.DateTimeField(db_index=True)),
                ("status", models.PositiveSmallIntegerField()),
                ("code", models.CharField(blank=True, db_index=True, max_length=64, null=True)),
                ("event", models.CharField(blank=True, db_index=True, max_length=200, null=True)),
                (
                    "delivery_id",
                    models.CharField(
                        blank=True,
                        db_index=True,
                        max_length=200,
                        null=True,
                        verbose_name="delivery id",
                    ),
                ),
                (
                    "webhook_id",
                    models.CharField(
                        blank=True, max_length=200, null=True, verbose_name="webhook id"
                    ),
                ),
                ("latency_ms", models.FloatField(verbose_name="latency (ms)")),
                ("secret_index", models.PositiveSmallIntegerField(blank=True, null=True)),
                ("error", models.TextField(blank=True, null=True)),
                ("client", models.CharField(blank=True, max_length=200, null=True)),
                ("duplicate", models.BooleanField(default=False)),
                ("body", models.BinaryField(blank=True, null=True)),
                ("signature", models.CharField(blank=True, max_length=200, null=True)),
                ("timestamp", models.CharField(blank=True, max_length=200, null=True)),
            ],
            options={
                "verbose_name": "webhook receipt",
                "db_table": "cortexhooks_receipt",
                "ordering": ["-id"],
            },
        ),
    ]
