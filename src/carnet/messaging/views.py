"""Pages of "Messagerie": the inbox, a conversation, the reply, the attachments."""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import SuspiciousOperation
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from carnet.core.http import client_address
from carnet.documents.files import title_from_name
from carnet.documents.responses import file_response

from . import selectors, services
from .forms import MessageForm, NewConversationForm, SaveToDocumentsForm


@never_cache
@require_http_methods(["GET"])
def index(request):
    space = selectors.messaging_space(request.user)
    query = selectors.ListQuery.from_params(request.GET)
    return render(
        request,
        "messaging/index.html",
        {
            "page": selectors.conversations_page(space, query),
            "query": query,
            "address": services.patient_address(space),
            "can_start": services.correspondents(space).exists(),
            "search_max": settings.CARNET["DOCUMENT_SEARCH_MAX_LENGTH"],
        },
    )


def _professional_label(pro) -> str:
    parts = [pro.full_name, pro.get_profession_display()]
    if pro.establishment:
        parts.append(pro.establishment)
    return " — ".join(parts)


@never_cache
@require_http_methods(["GET", "POST"])
def new(request):
    space = selectors.messaging_space(request.user)
    professionals = {str(p.public_id): p for p in services.correspondents(space)}
    posted = request.method == "POST"
    form = NewConversationForm(
        request.POST if posted else None,
        request.FILES if posted else None,
        professional_choices=[(k, _professional_label(p)) for k, p in professionals.items()],
        document_choices=selectors.document_choices(space),
    )
    if posted and form.is_valid():
        data = form.cleaned_data
        try:
            files = data["fichiers"] + services.document_files(space, data["documents"])
            conversation = services.person_start(
                user=request.user,
                space=space,
                professional=professionals.get(data["professional"]),
                subject=data["subject"],
                body=data["body"],
                files=files,
                client=client_address(request),
            )
        except services.MessagingError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, "Votre message a été envoyé.")
            return redirect("messaging:conversation", public_id=conversation.public_id)
    return render(
        request,
        "messaging/new.html",
        {"form": form, "has_correspondents": bool(professionals), **selectors.limits()},
        status=400 if form.is_bound and form.errors else 200,
    )


@never_cache
@require_http_methods(["GET", "POST"])
def conversation(request, public_id):
    space = selectors.messaging_space(request.user)
    conv = selectors.conversation_of_space(space, public_id)
    refusal = services.reply_refusal(conv)
    choices = selectors.document_choices(space)
    status = 200
    if request.method == "POST":
        saving_draft = request.POST.get("action") == "brouillon"
        form = MessageForm(
            request.POST, request.FILES, document_choices=choices, sending=not saving_draft
        )
        if refusal:
            form.is_valid()
            form.add_error(None, refusal)
        elif form.is_valid():
            data = form.cleaned_data
            if saving_draft:
                services.draft_save(user=request.user, conversation=conv, body=data["body"])
                messages.success(
                    request,
                    "Votre brouillon est enregistré. Ses pièces jointes ne sont pas gardées : "
                    "joignez-les au moment de l'envoi.",
                )
                return redirect("messaging:conversation", public_id=conv.public_id)
            try:
                files = data["fichiers"] + services.document_files(space, data["documents"])
                services.person_reply(
                    user=request.user,
                    conversation=conv,
                    body=data["body"],
                    files=files,
                    client=client_address(request),
                )
            except services.MessagingError as exc:
                form.add_error(None, str(exc))
            else:
                services.draft_delete(conversation=conv)
                messages.success(request, "Votre réponse a été envoyée.")
                return redirect("messaging:conversation", public_id=conv.public_id)
        status = 400
    else:
        services.conversation_read(user=request.user, conversation=conv)
        form = MessageForm(initial={"body": services.draft_text(conv)}, document_choices=choices)
    entries = [(m, services.message_text(m)) for m in selectors.thread(conv)]
    return render(
        request,
        "messaging/conversation.html",
        {
            "conversation": conv,
            "entries": entries,
            "refusal": refusal,
            "form": form,
            "inline_types": selectors.INLINE_TYPES,
            **selectors.limits(),
        },
        status=status,
    )


def _wanted(request) -> bool:
    value = request.POST.get("valeur")
    if value not in ("0", "1"):
        raise SuspiciousOperation("valeur attendue : 0 ou 1")
    return value == "1"


@require_POST
def archive(request, public_id):
    space = selectors.messaging_space(request.user)
    conv = selectors.conversation_of_space(space, public_id)
    archived = _wanted(request)
    services.conversation_archive(
        user=request.user, conversation=conv, archived=archived, client=client_address(request)
    )
    messages.success(
        request,
        "La conversation est archivée."
        if archived
        else "La conversation est de retour dans votre messagerie.",
    )
    return redirect("messaging:index")


@never_cache
@require_http_methods(["GET", "POST"])
def delete(request, public_id):
    space = selectors.messaging_space(request.user)
    conv = selectors.conversation_of_space(space, public_id)
    if request.method == "POST":
        services.conversation_delete(
            user=request.user, conversation=conv, client=client_address(request)
        )
        messages.success(request, f"La conversation « {conv.subject} » a été supprimée.")
        return redirect("messaging:index")
    return render(
        request,
        "messaging/delete.html",
        {"conversation": conv, "retention_days": settings.CARNET["MESSAGE_RETENTION"].days},
    )


@never_cache
@require_http_methods(["GET"])
def attachment(request, public_id):
    """Voir (PDF, JPEG, PNG inline in a sandbox) or Télécharger (every type)."""
    space = selectors.messaging_space(request.user)
    found = selectors.attachment_of_space(space, public_id)
    download = "telecharger" in request.GET or found.media_type not in selectors.INLINE_TYPES
    data = services.attachment_content(
        user=request.user, attachment=found, download=download, client=client_address(request)
    )
    return file_response(selectors.attachment_as_file(found), data, download=download)


@never_cache
@require_http_methods(["GET", "POST"])
def attachment_save(request, public_id):
    """ "Enregistrer dans mes documents": the person chooses the title and the category."""
    space = selectors.messaging_space(request.user)
    found = selectors.attachment_of_space(space, public_id)
    conv = found.message.conversation
    initial = {
        "title": title_from_name(found.filename),
        "document_date": timezone.localdate(found.message.sent_at),
    }
    posted = request.method == "POST"
    form = SaveToDocumentsForm(request.POST if posted else None, initial=initial)
    if posted and form.is_valid():
        data = form.cleaned_data
        doc = services.attachment_to_document(
            user=request.user,
            attachment=found,
            title=data["title"],
            category=data["category"],
            document_date=data["document_date"],
            client=client_address(request),
        )
        messages.success(request, f"« {doc.title} » est enregistré dans vos documents.")
        return redirect("messaging:conversation", public_id=conv.public_id)
    return render(
        request,
        "messaging/attachment_save.html",
        {"form": form, "attachment": found, "conversation": conv},
        status=400 if form.is_bound else 200,
    )
