from django.apps import AppConfig


class TamConfig(AppConfig):
    name = "tam"
    verbose_name = "TAM contracts"
