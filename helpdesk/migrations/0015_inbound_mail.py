# Inbound e-mail (issue 13): what became of each message, exactly once, and the
# replies that came by e-mail.
import django.db.models.deletion
from django.db import migrations, models

import helpdesk.mail.models


class Migration(migrations.Migration):
    dependencies = [("helpdesk", "0014_console_urgency_indexes_and_search")]

    operations = [
        migrations.CreateModel(
            name='InboundMessage',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('message_id', models.CharField(blank=True, help_text='Empty when it had none.', max_length=250, verbose_name='Message-ID')),
                ('content_sha256', models.CharField(max_length=64)),
                ('received_at', models.DateTimeField()),
                ('source', models.CharField(choices=[('imap', 'IMAP'), ('maildir', 'Maildir'), ('pipe', 'MTA pipe (receive_mail)')], max_length=8)),
                ('sender', models.CharField(blank=True, max_length=254)),
                ('subject', models.CharField(blank=True, max_length=250)),
                ('outcome', models.CharField(choices=[('created', 'Created a ticket'), ('replied', 'Added a reply'), ('escalated', 'Escalated a ticket'), ('refused', 'Refused'), ('ignored', 'Ignored (automatic mail)'), ('failed', 'Failed (malformed or oversized)')], max_length=10)),
                ('reason', models.TextField(blank=True, help_text='Why it was refused or ignored.')),
                ('original', models.FileField(blank=True, help_text='The e-mail as received (accepted mail only), for agents.', max_length=200, upload_to=helpdesk.mail.models.original_path)),
                ('auto_replied_at', models.DateTimeField(blank=True, help_text='When the refusal was answered.', null=True)),
                ('ticket', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='inbound_messages', to='helpdesk.ticket')),
                ('ticket_message', models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='inbound', to='helpdesk.message')),
            ],
            options={
                'verbose_name': 'inbound e-mail',
                'ordering': ['-received_at', '-pk'],
                'indexes': [models.Index(fields=['outcome', 'received_at'], name='inbound_outcome_received'), models.Index(condition=models.Q(('auto_replied_at__isnull', False)), fields=['sender', 'auto_replied_at'], name='inbound_auto_replies')],
                'constraints': [models.UniqueConstraint(condition=models.Q(('message_id', ''), _negated=True), fields=('message_id',), name='inbound_once_per_message_id'), models.UniqueConstraint(fields=('content_sha256',), name='inbound_once_per_content')],
            },
        ),
        migrations.AddField(
            model_name='historicalmessage',
            name='is_from_email',
            field=models.BooleanField(default=False, help_text='Written as an e-mail to the support address (helpdesk.mail).', verbose_name='received by e-mail'),
        ),
        migrations.AddIndex(
            model_name='outboundemail',
            index=models.Index(fields=['message_id'], name='outbox_message_id'),
        ),
        migrations.AddField(
            model_name='message',
            name='is_from_email',
            field=models.BooleanField(default=False, help_text='Written as an e-mail to the support address (helpdesk.mail).', verbose_name='received by e-mail'),
        ),
    ]
