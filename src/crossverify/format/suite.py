"""The two crypto suites a consortium can be deployed with, one per deployment, fixed for ever.

====================  ===================================================  ============================================
                      standard (1)                                         GM (2)
====================  ===================================================  ============================================
digests               keccak-256 (sha256 and SM3 as agreed alternatives)   SM3
issuer signatures     secp256k1 ECDSA over EIP-712 typed data              SM2 over an SM3 digest of the same structure
holder keys           ECDSA P-256 (WebCrypto, passkeys)                    SM2 (P-256 where the consortium allows it)
sealed receipts       X25519 (or ML-KEM-768 + X25519) HPKE, AES-GCM        SM2 encryption, SM4-GCM, SM3 commitments
====================  ===================================================  ============================================

Every structure names its suite; one suite's structure at a deployment of the other is refused
(:class:`~crossverify.errors.SuiteMismatch`).
"""

from __future__ import annotations

from enum import IntEnum

from ..errors import SuiteMismatch


class Suite(IntEnum):
    """A deployment's crypto suite, as its registry's ``cryptoSuite()`` returns it."""

    STANDARD = 1
    GM = 2

    @property
    def label(self) -> str:
        """The suite's name in files, options and reports: ``standard`` or ``gm``."""
        return self.name.lower()

    @classmethod
    def named(cls, label: str) -> Suite:
        """The suite called ``label`` (``standard`` or ``gm``)."""
        try:
            return cls[label.upper()]
        except KeyError:
            raise ValueError(f"the crypto suite is 'standard' or 'gm', not {label!r}") from None


def require_suite(found: Suite, deployment: Suite, what: str) -> None:
    """Refuse ``what`` of the ``found`` suite at a deployment of another."""
    if found is not deployment:
        raise SuiteMismatch(f"{what} belongs to the {found.label} suite; this deployment uses the {deployment.label} "
                            "suite")
