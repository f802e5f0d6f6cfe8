"""Shadow copy providers: the interface, and the software (copy-on-write) system provider."""

from vsssim.vss.providers.base import Provider, ShadowCopy
from vsssim.vss.providers.software import SOFTWARE_PROVIDER_ID, DiffArea, SoftwareProvider

__all__ = ["SOFTWARE_PROVIDER_ID", "DiffArea", "Provider", "ShadowCopy", "SoftwareProvider"]
