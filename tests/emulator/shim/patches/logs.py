"""CloudWatch Logs patch (W1). The table in tests/emulator/README.md is written from it."""

from __future__ import annotations

from ..registry import patch


@patch(
    "W1", "logs",
    moto=(
        "CloudWatch Logs DeleteLogGroup leaves the group's tags in the tag store: a group made "
        "again with the same name comes back with the old group's tags."
    ),
    emulator="The tags go with the group, as on AWS.",
)
def log_group_tags() -> None:
    from moto.logs.models import LogsBackend as Backend

    orig_delete = Backend.delete_log_group

    def delete_log_group(self, log_group_name: str) -> None:
        """W1: a deleted log group's tags go with it (a group made again starts untagged)."""
        group = self.groups.get(log_group_name)
        orig_delete(self, log_group_name)
        if group is not None:
            self.tagger.delete_all_tags_for_resource(group.arn)

    Backend.delete_log_group = delete_log_group
