"""The shapes the bank's and the resident page's routes share, as the OpenAPI document shows them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class CheckOut(BaseModel):
    name: str = Field(description="The check, e.g. anchored, not_revoked, signing_key_valid")
    outcome: str = Field(description="passed, failed or not applicable")
    detail: str = Field(description="The reason, in plain words")


class ReceiptOut(BaseModel):
    commitment: str = Field(description="The receipt's reference: the commitment recorded on chain, sealed")
    state: str = Field(description="queued, sent or recorded")
    transaction: str | None = None
    block: int | None = None
    final: bool = Field(False, description="Whether its block lies the configured confirmations deep and is still "
                                           "the chain's; until then it is checked again, and sent again if dropped")


class VerificationOut(BaseModel):
    valid: bool
    docType: str | None = None
    issuer: str | None = None
    documentDigest: str | None = None
    batchRoot: str | None = None
    checks: list[CheckOut]
    purpose: str | None = Field(None, description="A presentation's purpose code, as its holder signed it")
    presentationHash: str | None = Field(None, description="SHA-256 of what the holder signed: their consent")
    disclosed: dict[str, Any] = Field(default_factory=dict, description="The claims the resident disclosed")
    receipt: ReceiptOut | None = Field(None, description="Present when a receipt was asked for")


class ChallengeOut(BaseModel):
    version: int
    aud: str = Field(description="This bank's verifier id: the presentation must name it")
    nonce: str = Field(description="32 bytes, hex: answered at most once")
    purpose: str
    expiresAt: int = Field(description="Unix seconds")


class CodeIn(BaseModel):
    code: str = Field(description="The code as the resident typed it (case, spaces and dashes do not matter)",
                      max_length=64)
