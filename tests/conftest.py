import io
import json

import pytest
from PIL import Image

from integrations.channels import Channel
from integrations.models import Integration


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path_factory):
    root = tmp_path_factory.mktemp("media")
    settings.MEDIA_ROOT = str(root)
    return root


def image_bytes(color=(200, 30, 30), fmt="JPEG", size=(32, 32)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, fmt)
    return buf.getvalue()


@pytest.fixture
def make_integration(db):
    def make(name="Allegro test", channel=Channel.ALLEGRO, **kwargs):
        from integrations.demo import DEMO_CREDENTIALS

        kwargs.setdefault("api_url", f"http://127.0.0.1:9/{channel}/test")
        kwargs.setdefault("credentials", dict(DEMO_CREDENTIALS[channel]))
        return Integration.objects.create(name=name, channel=channel, **kwargs)

    return make


@pytest.fixture
def write_jsonl(tmp_path):
    def write(lines, name="offers.jsonl"):
        path = tmp_path / name
        with path.open("w", encoding="utf-8") as fh:
            for line in lines:
                fh.write(line if isinstance(line, str) else json.dumps(line, ensure_ascii=False))
                fh.write("\n")
        return path

    return write
