from django.contrib import admin

from calls.models import Organization

admin.site.register(Organization)
