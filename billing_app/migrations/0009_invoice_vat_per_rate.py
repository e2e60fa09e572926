"""VAT per rate on invoices (EN 16931 BR-CO-17, issue 16).

Invoices already stored keep the VAT they were issued with: `vat_per_rate` is False for them, and
their per-rate rows are backfilled from their stored lines as the sums of the lines' net amounts and
VAT amounts per rate, which is what their VAT summary showed and what their `total_vat` is the sum of.
New invoices default to VAT per rate (the AlterField after the backfill).
"""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import Sum

BATCH = 2000


def backfill(apps, schema_editor):
    InvoiceLine = apps.get_model("billing_app", "InvoiceLine")
    InvoiceVatSubtotal = apps.get_model("billing_app", "InvoiceVatSubtotal")
    sums = (InvoiceLine.objects.values("invoice_id", "vat_rate")
            .annotate(taxable=Sum("amount_excl_vat"), vat=Sum("vat_amount")).order_by("invoice_id"))
    per_invoice: dict[int, list] = {}
    for row in sums.iterator(chunk_size=BATCH):
        per_invoice.setdefault(row["invoice_id"], []).append(row)
    rows = []
    for invoice_id, rates in per_invoice.items():
        rates.sort(key=lambda row: (row["vat_rate"] is None, row["vat_rate"] or 0))
        rows += [InvoiceVatSubtotal(invoice_id=invoice_id, position=position, vat_rate=row["vat_rate"],
                                    taxable_amount=row["taxable"], vat_amount=row["vat"])
                 for position, row in enumerate(rates, start=1)]
    InvoiceVatSubtotal.objects.bulk_create(rows, batch_size=BATCH)


class Migration(migrations.Migration):

    dependencies = [
        ('billing_app', '0008_receipt_collection'),
    ]

    operations = [
        migrations.AddField(
            model_name='invoice',
            name='vat_per_rate',
            field=models.BooleanField(default=False, help_text="VAT computed per rate on the sum of its lines (EN 16931 BR-CO-17); off for invoices issued before, whose VAT is the sum of their lines' VAT", verbose_name='VAT per rate'),
        ),
        migrations.CreateModel(
            name='InvoiceVatSubtotal',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('position', models.PositiveSmallIntegerField()),
                ('vat_rate', models.DecimalField(blank=True, decimal_places=3, help_text='blank: no VAT applies', max_digits=6, null=True, verbose_name='VAT %')),
                ('taxable_amount', models.DecimalField(decimal_places=2, max_digits=14)),
                ('vat_amount', models.DecimalField(decimal_places=2, max_digits=14)),
                ('invoice', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='vat_subtotals', to='billing_app.invoice')),
            ],
            options={
                'ordering': ['invoice', 'position'],
                'constraints': [models.UniqueConstraint(fields=('invoice', 'position'), name='unique_invoice_vat_subtotal_position')],
            },
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
        migrations.AlterField(
            model_name='invoice',
            name='vat_per_rate',
            field=models.BooleanField(default=True, help_text="VAT computed per rate on the sum of its lines (EN 16931 BR-CO-17); off for invoices issued before, whose VAT is the sum of their lines' VAT", verbose_name='VAT per rate'),
        ),
    ]
