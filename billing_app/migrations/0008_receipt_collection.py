# Receipt collection (issue 15 item 2): one ReceiptCollection per pay-as-you-go receipt no payment covered.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('billing_app', '0007_credit_note_refund_intent'),
    ]

    operations = [
        migrations.CreateModel(
            name='ReceiptCollection',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('status', models.CharField(choices=[('collecting', 'Collecting (charge under way)'), ('retrying', 'Payment failed (dunning)'), ('overdue', 'Overdue (every retry failed)'), ('collected', 'Collected')], default='collecting', max_length=10)),
                ('attempts', models.PositiveSmallIntegerField(default=0, help_text='charges tried')),
                ('first_failed_at', models.DateTimeField(blank=True, null=True)),
                ('next_attempt_at', models.DateTimeField(blank=True, null=True)),
                ('failure_message', models.CharField(blank=True, max_length=255)),
                ('overdue_at', models.DateTimeField(blank=True, null=True)),
                ('collected_at', models.DateTimeField(blank=True, null=True)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('invoice', models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name='collection', to='billing_app.invoice')),
                ('payment', models.ForeignKey(blank=True, help_text='the latest attempt', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='billing_app.payment')),
            ],
            options={
                'ordering': ['-created_at', '-pk'],
                'indexes': [models.Index(fields=['status', 'next_attempt_at'], name='receipt_collection_dunning')],
            },
        ),
    ]
