from django.apps import AppConfig


class TwoFactorConfig(AppConfig):
    name = "accounts.two_factor"
    label = "two_factor"
    verbose_name = "Two-factor sign-in"

    def ready(self) -> None:
        # django-otp registers admins for its devices: they show every agent's secret
        # key and recovery codes to whoever may view the rows, and the TOTP one adds a
        # QR-code URL that checks no permission. Agents manage their own devices on
        # the "Two-factor sign-in" page; a lost device is reset with
        # ``manage.py reset_two_factor``. The admin's autodiscovery has run by now
        # (django.contrib.admin is listed first and its ready() runs first).
        from django.contrib import admin
        from django_otp.plugins.otp_static.models import StaticDevice
        from django_otp.plugins.otp_totp.models import TOTPDevice

        for model in (TOTPDevice, StaticDevice):
            if admin.site.is_registered(model):
                admin.site.unregister(model)
