"""Jobs a channel carries out for an integration over several tasks (`ChannelJob`)."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from integrations.models.integration import Integration


class ChannelJob(models.Model):
    """A job a channel carries out for an integration over several tasks, remembered between
    them (Amazon: the listings report a drift check waits for). One per purpose: a new job
    replaces the old. Not a budget, not a run's state: a drift check that pauses while the
    channel works finds its job here from whichever worker resumes it."""

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="+")
    purpose = models.CharField(max_length=60)  # e.g. "GET_MERCHANT_LISTINGS_ALL_DATA"
    job_id = models.CharField(max_length=200)  # the channel's id (Amazon's reportId)
    finished = models.BooleanField(default=False)  # read to its end: the next check asks anew
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("channel job")
        verbose_name_plural = _("channel jobs")
        constraints = [
            models.UniqueConstraint(fields=["integration", "purpose"], name="one_job_per_purpose")
        ]

    def __str__(self):
        return f"{self.purpose} {self.job_id}"
