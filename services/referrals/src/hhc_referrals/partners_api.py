"""The partner catalogue over HTTP: reference data for staff, about no case (policy 3.6).

Endpoints and what each partner may be told are listed; a webhook's secret, and the name
of the variable holding it, never are.
"""

from datetime import timedelta
from typing import Annotated, Self

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from hhc_chassis.access import Permission
from hhc_chassis.auth import authorised
from hhc_chassis.service import runtime_of
from hhc_contracts.vocabulary import DeliveryChannel, Partner, PartnerKind
from hhc_referrals.catalogue import LawfulBasis, PartnerCatalogue, PartnerEntry, load_catalogue
from hhc_referrals.settings import ReferralsSettings

router = APIRouter(tags=["partners"])


def catalogue_of(request: Request) -> PartnerCatalogue:
    """The service's catalogue: the one put on ``app.state.partner_catalogue`` at start,
    else loaded from ``PARTNER_CATALOGUE_FILE`` now and kept there."""
    state = request.app.state
    catalogue: PartnerCatalogue | None = getattr(state, "partner_catalogue", None)
    if catalogue is None:
        settings = runtime_of(request).settings
        if not isinstance(settings, ReferralsSettings):
            settings = ReferralsSettings()
        catalogue = load_catalogue(settings.partner_catalogue_file)
        state.partner_catalogue = catalogue
    return catalogue


class PartnerOut(BaseModel):
    id: Partner
    name: str
    kind: PartnerKind
    lawful_basis_without_consent: LawfulBasis | None
    sharing_agreement: str | None
    channel: DeliveryChannel
    webhook_url: str | None
    email: str | None
    telephone: str | None
    allowed_fields: list[str]
    acknowledge_within_seconds: float

    @classmethod
    def of(cls, entry: PartnerEntry) -> Self:
        return cls(
            id=entry.id,
            name=entry.name,
            kind=entry.kind,
            lawful_basis_without_consent=entry.lawful_basis_without_consent,
            sharing_agreement=entry.sharing_agreement,
            channel=entry.channel,
            webhook_url=entry.webhook_url,
            email=entry.email,
            telephone=entry.telephone,
            allowed_fields=sorted(entry.allowed_fields),
            acknowledge_within_seconds=entry.acknowledge_within / timedelta(seconds=1),
        )


@router.get(
    "/v1/partners",
    response_model=list[PartnerOut],
    summary="The partner catalogue: how each partner is reached and what it may be told",
    # No case and no personal data: nothing to audit.
    dependencies=[Depends(authorised(Permission.READ_REFERENCE_DATA))],
)
async def list_partners(
    catalogue: Annotated[PartnerCatalogue, Depends(catalogue_of)],
) -> list[PartnerOut]:
    return [PartnerOut.of(entry) for entry in catalogue.entries]
