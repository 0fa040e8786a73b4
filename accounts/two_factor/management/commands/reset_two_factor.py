"""manage.py reset_two_factor EMAIL: for an agent who lost their phone and their
recovery codes. Their authenticator and codes are removed; at the next sign-in they
set up a new one (superusers and Support Managers must) or sign in with the password
alone (other agents)."""

from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from accounts.two_factor import policy, services


class Command(BaseCommand):
    help = "Remove an agent's two-factor authenticator and recovery codes."

    def add_arguments(self, parser) -> None:
        parser.add_argument("email", help="The agent's e-mail address (log-in).")

    def handle(self, *args, email: str, **options) -> None:
        try:
            user = User.objects.get_by_natural_key(email.strip())
        except User.DoesNotExist:
            raise CommandError(f"No user has the e-mail address {email!r}.") from None
        if not services.remove_two_factor(user, acting_user=None):
            self.stdout.write(f"{user.email} has no two-factor sign-in; nothing done.")
            return
        then = (
            "must set up a new authenticator at the next sign-in"
            if policy.is_required(user)
            else "signs in with the password alone until they set one up again"
        )
        self.stdout.write(
            self.style.SUCCESS(f"Two-factor sign-in removed for {user.email}; {then}.")
        )
