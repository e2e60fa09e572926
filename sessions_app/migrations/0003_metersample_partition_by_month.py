"""Meter samples partitioned by month on PostgreSQL (see sessions_app.partitions for the why).

Only the database changes: Django's model state is untouched (MeterSample keeps `id` as its primary
key), so `makemigrations` sees nothing to do. SQLite keeps its plain table. Unapplying leaves the
table partitioned, which Django cannot tell apart.

Later migrations that alter MeterSample must be written with care, because Django's schema editor
assumes the plain table: a new column or CHECK constraint works on the partitioned table as is,
but a new UNIQUE constraint must include taken_at, the primary key is (id, taken_at) in the
database, and the plain index on session_id Django would expect does not exist ((session_id,
taken_at) serves those lookups). Write such changes as RunSQL with state_operations.
"""
from django.db import migrations


def partition_samples(apps, schema_editor):
    from sessions_app.partitions import sample_table_partition

    sample_table_partition(connection=schema_editor.connection)


class Migration(migrations.Migration):

    dependencies = [
        ("sessions_app", "0002_chargingstation_connected_to_and_more"),
    ]

    operations = [
        migrations.RunPython(partition_samples, migrations.RunPython.noop, elidable=False),
    ]
