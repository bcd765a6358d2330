from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from notes.models import Note


@csrf_exempt
def index(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        Note.objects.create(text=request.POST["text"])
    notes = [n.text for n in Note.objects.order_by("id")]
    return JsonResponse({"notes": notes})


def db(request: HttpRequest) -> HttpResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        (ssl,) = cursor.fetchone()
    return JsonResponse({"ssl": ssl, "vendor": connection.vendor})
