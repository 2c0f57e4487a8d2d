"""The professional portal's « Messagerie » of a patient (/pro/patients/<id>/messages/): this
professional's conversations with the patient, « Écrire au patient », a conversation's thread
with the reply form, and « Clore l'échange ».

Writing to the patient is the right to feed the record (`Action.DOCUMENT_ADD`, decided by
consent, on an active space): the messaging services decide it again and write the event of each
message (« Message reçu d'un professionnel de santé ») with the message, or nothing at all. The
pages show only this professional's own correspondence with the patient, never the record: they
are decided the same way; reading a thread (the patient's replies are health content of the
space) writes « conversation_lue_professionnel » to the patient's trail. Whatever is refused,
and any conversation that is not this professional's, is the 404 of a missing id.
"""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from carnet.consent import rules
from carnet.consent.models import Action
from carnet.core.http import client_address
from carnet.documents.responses import file_response
from carnet.messaging import selectors as messaging_selectors
from carnet.messaging import services as messaging
from carnet.messaging.models import Attachment, Conversation, Message

from .forms import ProMessageForm, ProMessageReplyForm
from .portal_views import TEMPLATES, _patient, _professional


def _writable(request, space_id):
    """(professional, space, decision) when this professional may write to the patient."""
    professional, space, facts = _patient(request, space_id)
    if space.state != space.State.ACTIVE:  # a pending space takes documents, not messages
        raise Http404
    decision = rules.decide(request.user, space, Action.DOCUMENT_ADD, facts=facts)
    if not decision:
        raise Http404
    return professional, space, decision, facts


def _mine(space, professional, conversation_id) -> Conversation:
    conversation = Conversation.objects.filter(
        space=space,
        professional=professional,
        public_id=conversation_id,
        deleted_at__isnull=True,  # the patient deleted it: gone for the professional too
    ).first()
    if conversation is None:
        raise Http404
    conversation.space = space  # already read, with its state and person
    return conversation


def _context(space, decision, facts, **values) -> dict:
    return {
        "space": space,
        "person": space.person,
        "basis": decision.reason,
        "emergency": facts.emergency,
        **values,
    }


def _last_messages(conversations) -> dict:
    """The last message of each conversation, by conversation id (one query)."""
    last = {}
    for message in Message.objects.filter(conversation__in=conversations).order_by("sent_at", "id"):
        last[message.conversation_id] = message
    return last


@never_cache
@require_http_methods(["GET", "POST"])
def conversations(request, space_id):
    """The list of this professional's conversations with the patient, and « Écrire au
    patient »."""
    professional, space, decision, facts = _writable(request, space_id)
    posted = request.method == "POST"
    form = ProMessageForm(request.POST if posted else None, request.FILES if posted else None)
    if posted and form.is_valid():
        data = form.cleaned_data
        try:
            conversation = messaging.conversation_start(
                user=request.user,
                professional=professional,
                space=space,
                subject=data["subject"],
                body=data["body"],
                files=data["attachments"],
                no_reply=data["no_reply"],
                client=client_address(request),
            )
        except messaging.Refused as exc:  # refused or closed meanwhile
            raise Http404 from exc
        except messaging.MessagingError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, "Votre message a été envoyé au patient.")
            return redirect(
                "professionals:conversation",
                space_id=space.public_id,
                conversation_id=conversation.public_id,
            )
    mine = list(
        Conversation.objects.filter(space=space, professional=professional, deleted_at__isnull=True)
    )
    last = _last_messages(mine)
    rows = [(c, last.get(c.pk)) for c in mine]
    return render(
        request,
        f"{TEMPLATES}messages.html",
        _context(space, decision, facts, form=form, rows=rows),
        status=400 if form.is_bound else 200,
    )


@never_cache
@require_http_methods(["GET", "POST"])
def conversation(request, space_id, conversation_id):
    """The thread, oldest first, and the reply form."""
    professional, space, decision, facts = _writable(request, space_id)
    conversation = _mine(space, professional, conversation_id)
    posted = request.method == "POST"
    form = ProMessageReplyForm(request.POST if posted else None, request.FILES if posted else None)
    if posted and form.is_valid():
        data = form.cleaned_data
        try:
            messaging.professional_reply(
                user=request.user,
                professional=professional,
                conversation=conversation,
                body=data["body"],
                files=data["attachments"],
                no_reply=data["no_reply"],
                client=client_address(request),
            )
        except messaging.Refused as exc:
            raise Http404 from exc
        except messaging.MessagingError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, "Votre message a été envoyé au patient.")
            return redirect(
                "professionals:conversation",
                space_id=space.public_id,
                conversation_id=conversation.public_id,
            )
    if request.method == "GET":  # the replies read: in the patient's trail
        messaging.conversation_read_by_professional(
            user=request.user, conversation=conversation, client=client_address(request)
        )
    thread = list(Message.objects.filter(conversation=conversation).order_by("sent_at", "id"))
    attachments = {}
    for attachment in Attachment.objects.filter(message__in=thread):
        attachments.setdefault(attachment.message_id, []).append(attachment)
    entries = [(m, messaging.message_text(m), attachments.get(m.pk, [])) for m in thread]
    return render(
        request,
        f"{TEMPLATES}messages_thread.html",
        _context(space, decision, facts, form=form, conversation=conversation, entries=entries),
        status=400 if form.is_bound else 200,
    )


@never_cache
@require_GET  # not HEAD: a download decrypts and is in the trail
def attachment(request, space_id, conversation_id, attachment_id):
    """A file of the thread, downloaded (the patient's, or one this professional sent): in the
    patient's trail, by this professional."""
    professional, space, _, _ = _writable(request, space_id)
    conversation = _mine(space, professional, conversation_id)
    found = (
        Attachment.objects.select_related("message__conversation", "blob__data_key")
        .filter(public_id=attachment_id, message__conversation=conversation, blob__isnull=False)
        .first()
    )
    if found is None:
        raise Http404
    found.message.conversation = conversation  # its space already read
    data = messaging.attachment_content(
        user=request.user, attachment=found, download=True, client=client_address(request)
    )
    return file_response(messaging_selectors.attachment_as_file(found), data, download=True)


@never_cache
@require_http_methods(["GET", "POST"])
def conversation_close(request, space_id, conversation_id):
    """« Clore l'échange ? »: confirmed by a POST; the patient can no longer reply."""
    professional, space, decision, facts = _writable(request, space_id)
    conversation = _mine(space, professional, conversation_id)
    if conversation.closed_at is not None:
        return redirect(
            "professionals:conversation",
            space_id=space.public_id,
            conversation_id=conversation.public_id,
        )
    if request.method == "POST":
        messaging.conversation_close(
            user=request.user,
            professional=professional,
            conversation=conversation,
            client=client_address(request),
        )
        messages.success(request, "L'échange est clos : le patient ne peut plus y répondre.")
        return redirect(
            "professionals:conversation",
            space_id=space.public_id,
            conversation_id=conversation.public_id,
        )
    return render(
        request,
        f"{TEMPLATES}messages_close.html",
        _context(space, decision, facts, conversation=conversation),
    )


@never_cache
@require_http_methods(["GET", "POST"])
def smtp_access(request):
    """« Accès SMTP à la messagerie »: whether this professional has a password for the
    gateway, and a new one generated on request, shown once on this response only (stored as a
    keyed hash; the earlier one stops working)."""
    from django.conf import settings

    from carnet.messaging.gateway_services import credential_create
    from carnet.messaging.models import MessagingCredential

    professional = _professional(request)
    secret, error = "", ""
    if request.method == "POST":
        try:
            secret = credential_create(professional)
        except messaging.MessagingError as exc:
            error = str(exc)
    credential = MessagingCredential.objects.filter(professional=professional).first()
    return render(
        request,
        f"{TEMPLATES}messages_smtp.html",
        {
            "professional": professional,
            "credential": credential,
            "secret": secret,
            "error": error,
            "host": settings.SMTPD_HOST,
            "port": settings.SMTPD_PORT,
            "domain": settings.CARNET_PATIENT_MAIL_DOMAIN,
        },
        status=400 if error else 200,
    )
