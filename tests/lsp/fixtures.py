"""The pytest-lsp client fixture shared by the server's end-to-end tests."""

from __future__ import annotations

import pytest_lsp
from lsprotocol import types as T
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from .helpers import SERVER_COMMAND, install_recorder, wait

CLIENTS = ["visual_studio_code", "neovim", "emacs"]


def make_client_fixture(clients=CLIENTS, init_options=None):
    @pytest_lsp.fixture(params=clients, config=ClientServerConfig(server_command=SERVER_COMMAND))
    async def client(lsp_client: LanguageClient, request, tmp_path):
        caps = client_capabilities(request.param)
        install_recorder(lsp_client)
        lsp_client.registrations = []

        @lsp_client.feature(T.CLIENT_REGISTER_CAPABILITY)
        def register(params: T.RegistrationParams):
            lsp_client.registrations.extend(params.registrations)
            return None

        options = init_options(tmp_path) if callable(init_options) else init_options
        result = await wait(lsp_client.initialize_session(T.InitializeParams(
            capabilities=caps, root_uri=tmp_path.as_uri(), initialization_options=options,
            workspace_folders=[T.WorkspaceFolder(tmp_path.as_uri(), "ws")])))
        lsp_client.encoding = result.capabilities.position_encoding or "utf-16"
        lsp_client.client_name = request.param
        lsp_client.server_capabilities = result.capabilities
        yield
        await wait(lsp_client.shutdown_session())

    return client
