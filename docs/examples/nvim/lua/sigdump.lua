-- sigdump.nvim: the live first-bad layer of sigdumpd's pairs, for 'statusline'.
--
-- A real client of docs/protocol.md: it connects to sigdumpd's Unix socket,
-- sends `hello` and `subscribe`, reads one JSON object per line, and keeps per
-- pair the newest run, its layers' metrics and its first bad layer. When the
-- connection drops (daemon restarted, socket gone) a timer retries, and the
-- new `subscribe` carries the clock of the last event seen (`since`), so the
-- daemon replays exactly what was missed, or sends its state whole when the
-- clock belongs to an earlier daemon instance (`fresh_instance`).
-- With setup{host = 'ssh://[user@]host[:port][/socket]'} (or $SIGDUMP_HOST)
-- the connection is ssh running `sigdump dial-stdio` on that machine, as
-- `sigdump --host` does.
local M = {}

local uv = vim.uv or vim.loop

local defaults = { socket = nil, host = nil, pair = nil, retry_ms = 2000 }
local opts = vim.deepcopy(defaults)

local st = {
  pipe = nil,        -- the uv pipe while connecting or connected
  status = 'off',    -- off | connecting | connected | retrying
  buf = '',          -- bytes after the last newline received
  next_id = 1,
  pending = {},      -- request id -> method, until its reply
  sub_id = nil,      -- id of our live subscribe request; other events are stale
  clock = nil,       -- clock of the last event handled: where to resume
  server = nil,      -- the hello result
  pairs = {},        -- pair name -> { run, layers = {[index] = layer}, first_bad, ... }
  seq = 0,           -- local counter: which pair changed last
  connects = 0,      -- successful connections so far
  resumed = nil,     -- whether the last subscribe resumed from our clock (no fresh_instance)
  last_error = nil,
  timer = nil,
  ssh = nil,         -- with a host: { handle, err = stderr pipe, text = its last bytes }
}

-- JSON null decodes to vim.NIL; the code below wants plain nil.
local function val(x)
  if x == vim.NIL then return nil end
  return x
end

-- The same rule as sigdump and sigdumpd, after the setup{socket=} option.
function M.socket_path()
  if opts.socket then return opts.socket end
  local env = os.getenv('SIGDUMP_SOCKET')
  if env and env ~= '' then return env end
  local xdg = os.getenv('XDG_RUNTIME_DIR')
  if xdg and xdg ~= '' then return (xdg:gsub('/+$', '')) .. '/sigdump/sock' end
  return string.format('/tmp/sigdump-%d/sock', uv.getuid())
end

-- setup{host=}, else $SIGDUMP_HOST: the remote daemon's ssh:// URL, or nil.
function M.host()
  local h = opts.host or os.getenv('SIGDUMP_HOST')
  if h and h ~= '' then return h end
  return nil
end

local function shell_word(w)
  if w:match('^[%w_%-%./:@%%+=,~]+$') then return w end
  return "'" .. w:gsub("'", "'\\''") .. "'"
end

-- The command `sigdump --host URL` runs (docs/user-guide.md section 10):
-- $SIGDUMP_SSH (split at spaces; default ssh) -T -o BatchMode=yes
-- [-p PORT] [-l USER] -- HOST 'sigdump dial-stdio [--socket S]', the program
-- being $SIGDUMP_REMOTE_BIN or sigdump; S is `socket`, else the URL's path.
-- nil and a message for a bad URL.
function M.ssh_command(url, socket)
  local user, rest = url:match('^ssh://([^@/]+)@(.+)$')
  if not user then rest = url:match('^ssh://(.+)$') end
  local authority, path = (rest or ''):match('^([^/]*)(/.*)$')
  if not authority then authority = rest or '' end
  local host, port = authority:match('^%[([^%]]+)%]:?(%d*)$')
  if not host then host, port = authority:match('^([^:%[%]]+):?(%d*)$') end
  local n = tonumber(port ~= '' and port or '22')
  if not host or host:sub(1, 1) == '-' or not n or n < 1 or n > 65535 or url:find('%s') then
    return nil, 'bad host ' .. url .. '; the form is ssh://[user@]host[:port][/path/to/socket]'
  end
  socket = socket or (path ~= '/' and path or nil)
  local cmd = {}
  for w in (os.getenv('SIGDUMP_SSH') or ''):gmatch('%S+') do table.insert(cmd, w) end
  if #cmd == 0 then cmd = { 'ssh' } end
  -- No terminal for ssh inside the editor: never wait for a password.
  vim.list_extend(cmd, { '-T', '-o', 'BatchMode=yes' })
  if port ~= '' then vim.list_extend(cmd, { '-p', port }) end
  if user then vim.list_extend(cmd, { '-l', user }) end
  local bin = os.getenv('SIGDUMP_REMOTE_BIN')
  local remote = shell_word(bin and bin ~= '' and bin or 'sigdump') .. ' dial-stdio'
  if socket then remote = remote .. ' --socket ' .. shell_word(socket) end
  vim.list_extend(cmd, { '--', host, remote })
  return cmd
end

local function redraw()
  pcall(vim.cmd, 'redrawstatus!')
end

local function request(method, params)
  local id = st.next_id
  st.next_id = id + 1
  st.pending[id] = method
  local msg = { id = id, method = method }
  if params and next(params) then msg.params = params end
  st.pipe:write(vim.json.encode(msg) .. '\n')
  return id
end

local function subscribe()
  -- Events of an older subscription on this connection are ignored from now on.
  st.sub_id = request('subscribe', { pair = opts.pair, since = st.clock })
end

local connect

local function drop(pipe, reason)
  if pipe ~= st.pipe then return end
  st.pipe, st.sub_id, st.pending, st.buf = nil, nil, {}, ''
  if not pipe:is_closing() then pipe:close() end
  if st.ssh then
    -- The exit callback closes the handle (and reaps ssh).
    if st.ssh.text ~= '' then reason = (reason or '') .. ' (ssh: ' .. vim.trim(st.ssh.text) .. ')' end
    if st.ssh.handle:is_active() then st.ssh.handle:kill('sigterm') end
    st.ssh = nil
  end
  st.last_error = reason
  if st.status == 'off' then return end
  st.status = 'retrying'
  st.timer:start(opts.retry_ms, 0, function() vim.schedule(connect) end)
  redraw()
end

local function run_number(run)
  return tonumber(type(run) == 'string' and run:match('%d+') or '') or -1
end

-- The state of the pair an event belongs to, new when the event's run is newer.
local function pair_state(ev)
  local name = val(ev.pair)
  if not name then return nil end -- a watched file outside any pair
  local p = st.pairs[name]
  local run = val(ev.run)
  if p and run and run ~= p.run then
    if run_number(run) < run_number(p.run) then return nil end -- late event of an old run
    p = nil
  end
  if not p then
    p = { run = run, layers = {}, count = 0, ended = false }
    st.pairs[name] = p
  end
  st.seq = st.seq + 1
  p.seq = st.seq
  return p
end

local function on_event(msg)
  if msg.id ~= st.sub_id then return end
  st.clock = msg.clock or st.clock
  local ev = msg.event
  if ev == 'resync' or ev == 'gap' then
    -- State changed without events reaching us: take the daemon's state whole.
    -- (The reply says fresh_instance, which clears the old state then.)
    request('unsubscribe', { subscription = st.sub_id })
    st.clock = nil
    subscribe()
    return
  end
  local p = pair_state(msg)
  if not p then return end
  if ev == 'layer' then
    local l = val(msg.layer)
    if l and not p.layers[l.index] then p.count = p.count + 1 end
    if l then p.layers[l.index] = l end
    p.first_bad = val(msg.first_bad)
    p.diagnosis = val(msg.diagnosis)
    p.ended = false
  elseif ev == 'run_end' or ev == 'run_revised' then
    -- run_revised: the results of an ended run changed (a late benchmark).
    p.first_bad = val(msg.first_bad)
    p.diagnosis = val(msg.diagnosis)
    p.count = msg.layers or p.count
    p.coverage = val(msg.coverage)
    p.verdict = val(msg.verdict)
    p.ended = true
  end
  -- run_start and run_reset: pair_state() already began the new run.
end

local function on_reply(msg)
  local method = st.pending[msg.id]
  st.pending[msg.id] = nil
  local err = val(msg.error)
  if err then
    st.last_error = string.format('%s failed: %s: %s', tostring(method), tostring(err.code),
                                  tostring(err.message))
    return
  end
  local res = val(msg.result) or {}
  if method == 'hello' then
    st.server = res
  elseif method == 'subscribe' and msg.id == st.sub_id then
    st.resumed = not res.fresh_instance
    if res.fresh_instance then st.pairs = {} end -- the whole state follows
    st.clock = res.clock or st.clock
  end
end

local function on_line(line)
  local ok, msg = pcall(vim.json.decode, line)
  if not ok or type(msg) ~= 'table' then
    st.last_error = 'not JSON from the daemon: ' .. line:sub(1, 80)
  elseif msg.event then
    on_event(msg)
  else
    on_reply(msg)
  end
end

local function feed(pipe, chunk)
  if pipe ~= st.pipe then return end
  st.buf = st.buf .. chunk
  while true do
    local nl = st.buf:find('\n', 1, true)
    if not nl then break end
    local line = st.buf:sub(1, nl - 1)
    st.buf = st.buf:sub(nl + 1)
    if line ~= '' then on_line(line) end
  end
  if #st.buf > 2 * 1048576 then return drop(pipe, 'line longer than the protocol allows') end
  redraw()
end

-- ssh as the connection: one end of a socket pair is its stdin and stdout.
local function connect_ssh(host)
  local cmd, bad = M.ssh_command(host, opts.socket)
  if not cmd then
    st.status, st.last_error = 'off', bad -- retrying cannot fix the URL
    return redraw()
  end
  local fds = uv.socketpair(nil, nil, { nonblock = true })
  local ours, theirs = fds[1], fds[2]
  local pipe, err = uv.new_pipe(false), uv.new_pipe(false)
  pipe:open(ours)
  local ssh = { text = '', err = err }
  st.pipe, st.buf, st.status, st.ssh = pipe, '', 'connecting', ssh
  ssh.handle = uv.spawn(cmd[1], { args = { unpack(cmd, 2) }, stdio = { theirs, theirs, err } },
    function(code, signal)
      vim.schedule(function()
        if not err:is_closing() then err:close() end
        if ssh.handle and not ssh.handle:is_closing() then ssh.handle:close() end
        local how = signal ~= 0 and ('was killed by signal ' .. signal) or ('exited with status ' .. code)
        drop(pipe, 'ssh ' .. how)
      end)
    end)
  uv.fs_close(theirs)
  if not ssh.handle then
    err:close()
    st.ssh = nil
    return drop(pipe, 'cannot run ' .. cmd[1])
  end
  err:read_start(function(_, chunk)
    if chunk then ssh.text = (ssh.text .. chunk):sub(-300) end
  end)
  return pipe
end

-- The connection is up: read, say hello, subscribe.
local function start(pipe)
  st.status, st.connects, st.last_error = 'connected', st.connects + 1, nil
  -- libuv calls back on its own loop; protocol work happens on Neovim's.
  pipe:read_start(function(rerr, chunk)
    vim.schedule(function()
      if rerr or not chunk then return drop(pipe, rerr or 'the daemon closed the connection') end
      feed(pipe, chunk)
    end)
  end)
  request('hello', { client = 'nvim-plugin', protocol = 1 })
  subscribe()
  redraw()
end

connect = function()
  if st.pipe or st.status == 'off' then return end
  if M.host() then
    local pipe = connect_ssh(M.host())
    if pipe then start(pipe) end
    return
  end
  local pipe = uv.new_pipe(false)
  local path = M.socket_path()
  st.pipe, st.buf, st.status = pipe, '', 'connecting'
  pipe:connect(path, function(cerr)
    vim.schedule(function()
      if pipe ~= st.pipe then return end
      if cerr then return drop(pipe, path .. ': ' .. cerr) end
      start(pipe)
    end)
  end)
end

-- setup{socket = PATH, host = URL, pair = NAME, retry_ms = N}: starts (or
-- restarts) the client. With a host, socket names the socket on that machine.
function M.setup(user)
  M.stop()
  opts = vim.tbl_extend('force', vim.deepcopy(defaults), user or {})
  st.timer = st.timer or uv.new_timer()
  st.status = 'retrying'
  connect()
end

-- The options in force (a copy), e.g. to call setup() again.
function M.options()
  return vim.deepcopy(opts)
end

-- Closes the connection and stops retrying; the state seen so far stays.
function M.stop()
  local pipe = st.pipe
  st.status = 'off'
  if st.timer then st.timer:stop() end
  if pipe then drop(pipe, nil) end
end

-- The pair to show: the configured one, else the one that changed last.
local function pick(name)
  name = name or opts.pair
  if name then return st.pairs[name], name end
  local best, best_name
  for n, p in pairs(st.pairs) do
    if not best or p.seq > best.seq then best, best_name = p, n end
  end
  return best, best_name
end

-- One line for 'statusline': the first bad layer of the pair's newest run.
function M.statusline(name)
  local p, pname = pick(name)
  local offline = st.status ~= 'connected' and ' [' .. st.status .. ']' or ''
  if not p then return 'sigdump: ' .. (offline ~= '' and st.status or 'no run yet') end
  local head = string.format('sigdump %s %s: ', pname, p.run or '?')
  local fb = p.first_bad
  if fb then
    local l = p.layers[fb.index]
    local cos = l and val(l.cos)
    local why = cos and string.format('COS %.3f', cos) or tostring(val(fb.reason) or '')
    return string.format('%sfirst bad %d) %s %s%s', head, fb.index, fb.name, why, offline)
  end
  if p.ended and p.verdict and p.verdict ~= 'pass' then
    -- Nothing suspect, but not every sample layer was compared.
    local c = p.coverage and val(p.coverage.text) or ''
    return string.format('%s%s: %s%s', head, p.verdict, c, offline)
  end
  return string.format('%s%d layers ok%s%s', head, p.count, p.ended and '' or ' so far', offline)
end

-- A few lines describing the connection and every pair (for :SigdumpStatus).
function M.status_text()
  local s = st.server or {}
  local lines = {
    string.format('socket %s: %s (%d connection%s)',
                  M.host() and (M.host() .. (opts.socket or '')) or M.socket_path(), st.status, st.connects,
                  st.connects == 1 and '' or 's'),
    string.format('daemon %s pid %s, event loop %s, last clock %s', tostring(s.version or '?'),
                  tostring(s.pid or '?'), tostring(s.event_loop or '?'), tostring(st.clock or '-')),
    'subscription: ' .. (st.resumed == nil and 'none' or st.resumed and 'resumed from the last clock'
                         or 'fresh state from the daemon'),
  }
  if st.last_error then table.insert(lines, 'last error: ' .. st.last_error) end
  local names = vim.tbl_keys(st.pairs)
  table.sort(names)
  for _, n in ipairs(names) do
    local p = st.pairs[n]
    table.insert(lines, M.statusline(n))
    local d = val(p.diagnosis)
    if d and val(d.text) and d.text ~= '' then table.insert(lines, '  ' .. d.text) end
  end
  if #names == 0 then table.insert(lines, 'no pair has a run yet') end
  return table.concat(lines, '\n')
end

return M
