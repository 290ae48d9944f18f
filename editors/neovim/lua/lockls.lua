-- lockls for Neovim: starts the lockls language server for C buffers.
-- Works on Neovim 0.7+ :
--   0.11+       vim.lsp.config() + vim.lsp.enable()
--   0.8 - 0.10  vim.lsp.start() on FileType
--   0.7         vim.lsp.start_client() + vim.lsp.buf_attach_client() on FileType
--
--   require('lockls').setup({
--     cmd = { 'lockls' },            -- the server command (and arguments)
--     filetypes = { 'c' },           -- buffers to attach to
--     root_markers = { '.lockls.toml', 'lockls.toml', '.git' },
--     config_file = nil,             -- lockls setting `configFile`
--     select = nil,                  -- lockls setting `select` (list of rule names)
--     index_workspace = nil,         -- lockls setting `indexWorkspace` (false: no background index)
--     inlay_hints = false,           -- true: the held-lock hints (setting `inlayHints.heldLocks`),
--                                    --   shown with vim.lsp.inlay_hint.enable(true) (0.10+)
--     on_attach = nil,               -- function(client, bufnr)
--     capabilities = nil,
--   })
local M = {}

M.defaults = {
  cmd = { 'lockls' },
  filetypes = { 'c' },
  root_markers = { '.lockls.toml', 'lockls.toml', '.git' },
  config_file = nil,
  select = nil,
  index_workspace = nil,
  inlay_hints = false,
  on_attach = nil,
  capabilities = nil,
}

M.options = nil
local clients_by_root = {} -- 0.7 path: one client per root directory

-- The lockls settings (initializationOptions and didChangeConfiguration's "lockls").
function M.server_settings(opts)
  local s = {}
  if opts.config_file then s.configFile = opts.config_file end
  if opts.select then s.select = opts.select end
  if opts.index_workspace == false then s.indexWorkspace = false end
  if opts.inlay_hints then s.inlayHints = { heldLocks = true } end
  return s
end

local function exists(path)
  return (vim.uv or vim.loop).fs_stat(path) ~= nil
end

-- Nearest ancestor of `path` holding one of `markers` (plain upward search: 0.7 has no vim.fs).
function M.find_root(path, markers)
  local dir = vim.fn.fnamemodify(path, ':p:h')
  while true do
    for _, marker in ipairs(markers) do
      if exists(dir .. '/' .. marker) then return dir end
    end
    local parent = vim.fn.fnamemodify(dir, ':h')
    if parent == dir then break end
    dir = parent
  end
  return vim.fn.fnamemodify(path, ':p:h')
end

-- The user's on_attach, after turning the inlay hints on in the buffer when asked to.
local function on_attach(opts)
  return function(client, bufnr)
    if opts.inlay_hints and vim.lsp.inlay_hint and type(vim.lsp.inlay_hint.enable) == 'function' then
      pcall(vim.lsp.inlay_hint.enable, true, { bufnr = bufnr }) -- 0.10+
    end
    if opts.on_attach then opts.on_attach(client, bufnr) end
  end
end

local function client_config(opts, root_dir)
  local settings = M.server_settings(opts)
  return {
    name = 'lockls',
    cmd = opts.cmd,
    root_dir = root_dir,
    init_options = settings,
    settings = { lockls = settings },
    on_attach = on_attach(opts),
    capabilities = opts.capabilities,
  }
end

local function is_alive(id)
  local client = id and vim.lsp.get_client_by_id(id)
  if not client then return false end
  if type(client.is_stopped) == 'function' then
    -- 0.7-0.10: client.is_stopped(); 0.11: client:is_stopped()
    local ok, stopped = pcall(client.is_stopped, client)
    if ok then return not stopped end
    return not client.is_stopped()
  end
  return true
end

-- Attach lockls to `bufnr` (used on 0.7-0.10; on 0.11+ vim.lsp.enable does it).
function M.attach(bufnr)
  local opts = M.options or M.defaults
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  local name = vim.api.nvim_buf_get_name(bufnr)
  if name == '' or vim.bo[bufnr].buftype ~= '' then return end
  local root = M.find_root(name, opts.root_markers)
  if vim.lsp.start then -- 0.8+: reuses a running client with the same name and root
    return vim.lsp.start(client_config(opts, root), { bufnr = bufnr })
  end
  local id = clients_by_root[root]
  if not is_alive(id) then
    id = vim.lsp.start_client(client_config(opts, root))
    clients_by_root[root] = id
  end
  if id then vim.lsp.buf_attach_client(bufnr, id) end
  return id
end

function M.setup(opts)
  opts = vim.tbl_deep_extend('force', {}, M.defaults, opts or {})
  M.options = opts
  if vim.lsp.config and vim.lsp.enable then
    local cfg = client_config(opts, nil)
    cfg.root_dir = nil
    cfg.name = nil
    cfg.filetypes = opts.filetypes
    cfg.root_markers = opts.root_markers
    vim.lsp.config('lockls', cfg)
    vim.lsp.enable('lockls')
    return
  end
  local group = vim.api.nvim_create_augroup('lockls', { clear = true })
  vim.api.nvim_create_autocmd('FileType', {
    group = group,
    pattern = opts.filetypes,
    callback = function(args) M.attach(args.buf) end,
  })
  -- Buffers already open (setup() called late).
  for _, buf in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(buf) and vim.tbl_contains(opts.filetypes, vim.bo[buf].filetype) then
      M.attach(buf)
    end
  end
end

return M
