"""KMS key management: keys, aliases, key policies and rotation."""

from __future__ import annotations

import json
import re
from typing import Any

from nitro_wallet.kms_emulator import errors, policy
from nitro_wallet.kms_emulator.access import SYMMETRIC, KeyAccess
from nitro_wallet.kms_emulator.inputs import Input
from nitro_wallet.kms_emulator.store import AliasExists, Principal

MAX_DESCRIPTION_CHARS = 8192
MAX_LIST_LIMIT = 1000
DEFAULT_LIST_LIMIT = 100
ALIAS_NAME = re.compile(r"alias/[a-zA-Z0-9/_-]{1,250}")


class KeyManagement(KeyAccess):
    def _new_policy(self, request: Input, caller: Principal, *, required: bool) -> str | None:
        text = request.string("Policy", required=required, max_chars=policy.MAX_POLICY_BYTES)
        if text is None:
            return None
        try:
            parsed = policy.parse_policy(text)
        except policy.MalformedPolicy as exc:
            raise errors.malformed_policy(str(exc)) from None
        if not request.boolean("BypassPolicyLockoutSafetyCheck"):
            lockout = policy.RequestContext("kms:PutKeyPolicy", caller.arn, self.account_id, None, {})
            if policy.evaluate(parsed, lockout) is not policy.Decision.ALLOW:
                raise errors.malformed_policy(
                    "The new key policy will not allow you to update the key policy in the future."
                )
        return text

    def default_policy(self) -> str:
        return json.dumps(
            {
                "Version": "2012-10-17",
                "Id": "key-default-1",
                "Statement": [
                    {
                        "Sid": "Enable IAM User Permissions",
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws:iam::{self.account_id}:root"},
                        "Action": "kms:*",
                        "Resource": "*",
                    }
                ],
            }
        )

    def create_key(self, request: Input, caller: Principal) -> dict[str, Any]:
        request.choice("KeyUsage", ("ENCRYPT_DECRYPT",))
        request.choice("KeySpec", (SYMMETRIC,))
        request.choice("CustomerMasterKeySpec", (SYMMETRIC,))
        request.choice("Origin", ("AWS_KMS",))
        if request.boolean("MultiRegion"):
            raise errors.unsupported("The emulator does not create multi-Region keys")
        description = self._description(request)
        text = self._new_policy(request, caller, required=False) or self.default_policy()
        return {"KeyMetadata": self._metadata(self.store.create_key(description, text))}

    @staticmethod
    def _description(request: Input) -> str:
        value = request.body.get("Description", "")
        if not isinstance(value, str) or len(value) > MAX_DESCRIPTION_CHARS:
            raise errors.validation(
                f"Description must be a string of at most {MAX_DESCRIPTION_CHARS} characters"
            )
        return value

    def describe_key(self, request: Input, caller: Principal) -> dict[str, Any]:
        key = self._resolve(request.required_string("KeyId"))
        self._authorize(key, "kms:DescribeKey", caller)
        return {"KeyMetadata": self._metadata(key)}

    def list_keys(self, request: Input, caller: Principal) -> dict[str, Any]:
        rows = [{"KeyId": k.key_id, "KeyArn": self.key_arn(k.key_id)} for k in self.store.list_keys()]
        return self._page(request, rows, "Keys")

    def _page(self, request: Input, rows: list[dict[str, Any]], field: str) -> dict[str, Any]:
        limit = request.integer("Limit", 1, MAX_LIST_LIMIT) or DEFAULT_LIST_LIMIT
        marker = request.string("Marker", max_chars=1024)
        start = 0
        if marker is not None:
            # str.isdigit() alone also accepts digits such as "²" that int() refuses
            if not (marker.isascii() and marker.isdigit()):
                raise errors.KmsException("InvalidMarkerException", "The marker is not valid")
            start = int(marker)
        page = rows[start : start + limit]
        answer: dict[str, Any] = {field: page, "Truncated": start + limit < len(rows)}
        if answer["Truncated"]:
            answer["NextMarker"] = str(start + limit)
        return answer

    def enable_key(self, request: Input, caller: Principal) -> dict[str, Any]:
        key = self._resolve(request.required_string("KeyId"), aliases=False)
        self._authorize(key, "kms:EnableKey", caller)
        self.store.set_enabled(key.key_id, True)
        return {}

    def disable_key(self, request: Input, caller: Principal) -> dict[str, Any]:
        key = self._resolve(request.required_string("KeyId"), aliases=False)
        self._authorize(key, "kms:DisableKey", caller)
        self.store.set_enabled(key.key_id, False)
        return {}

    def create_alias(self, request: Input, caller: Principal) -> dict[str, Any]:
        name = request.required_string("AliasName", max_chars=256)
        if not ALIAS_NAME.fullmatch(name) or name.startswith("alias/aws/"):
            raise errors.validation(f"Alias must match {ALIAS_NAME.pattern} and not begin with alias/aws/")
        key = self._resolve(request.required_string("TargetKeyId"), aliases=False)
        self._authorize(key, "kms:CreateAlias", caller)
        try:
            self.store.create_alias(name, key.key_id)
        except AliasExists:
            raise errors.already_exists(
                f"An alias with the name {self.alias_arn(name)} already exists"
            ) from None
        return {}

    def list_aliases(self, request: Input, caller: Principal) -> dict[str, Any]:
        key_ref = request.string("KeyId")
        only = self._resolve(key_ref, aliases=False).key_id if key_ref else None
        rows = [
            {
                "AliasName": name,
                "AliasArn": self.alias_arn(name),
                "TargetKeyId": key_id,
                "CreationDate": created,
            }
            for name, key_id, created in self.store.list_aliases()
            if only is None or key_id == only
        ]
        return self._page(request, rows, "Aliases")

    def get_key_policy(self, request: Input, caller: Principal) -> dict[str, Any]:
        key = self._resolve(request.required_string("KeyId"), aliases=False)
        self._policy_name(request)
        self._authorize(key, "kms:GetKeyPolicy", caller)
        return {"Policy": key.policy, "PolicyName": "default"}

    def put_key_policy(self, request: Input, caller: Principal) -> dict[str, Any]:
        key = self._resolve(request.required_string("KeyId"), aliases=False)
        self._policy_name(request)
        self._authorize(key, "kms:PutKeyPolicy", caller)
        text = self._new_policy(request, caller, required=True)
        assert text is not None
        self.store.set_policy(key.key_id, text)
        return {}

    @staticmethod
    def _policy_name(request: Input) -> None:
        name = request.string("PolicyName", max_chars=128)
        if name not in (None, "default"):
            raise errors.not_found("The only valid key policy name is 'default'")

    def enable_key_rotation(self, request: Input, caller: Principal) -> dict[str, Any]:
        return self._set_rotation(request, caller, enabled=True)

    def disable_key_rotation(self, request: Input, caller: Principal) -> dict[str, Any]:
        return self._set_rotation(request, caller, enabled=False)

    def _set_rotation(self, request: Input, caller: Principal, *, enabled: bool) -> dict[str, Any]:
        key = self._resolve(request.required_string("KeyId"), aliases=False)
        action = "kms:EnableKeyRotation" if enabled else "kms:DisableKeyRotation"
        self._authorize(key, action, caller)
        self.store.set_rotation(self._usable(key).key_id, enabled)
        return {}

    def get_key_rotation_status(self, request: Input, caller: Principal) -> dict[str, Any]:
        key = self._resolve(request.required_string("KeyId"), aliases=False)
        self._authorize(key, "kms:GetKeyRotationStatus", caller)
        return {"KeyRotationEnabled": key.rotation_enabled, "KeyId": self.key_arn(key.key_id)}

    def rotate_key_on_demand(self, request: Input, caller: Principal) -> dict[str, Any]:
        key = self._resolve(request.required_string("KeyId"), aliases=False)
        self._authorize(key, "kms:RotateKeyOnDemand", caller)
        self.store.rotate(self._usable(key).key_id)
        return {"KeyId": key.key_id}
