"""String helpers that behave like FreeSWITCH's C code.

* ``separate_string`` is switch_separate_string: split on a delimiter into at
  most N parts (the last part keeps the rest), honouring single quotes and
  backslash escapes the way FreeSWITCH does (``\\d`` stays ``\\d``).
* ``expand_variables`` is switch_channel_expand_variables: ``${var}``,
  ``${var:offset:len}``, ``$${global}``, nested ``${${name}}`` and
  ``${api args}`` / ``${api(args)}`` which *runs the API command*, including
  ``${system <shell command>}`` (that really runs the shell, as FreeSWITCH
  does: a test that forgets to set app_disable_expand_variables must fail).
* ``switch_true`` is switch_true: FreeSWITCH's yes/on/true/... test.
"""

ESCAPE_META = "\\"


def switch_true(v):
    return (
        str(v).lower() in ("yes", "on", "true", "t", "enabled", "active", "allow") or (str(v).isdigit() and int(v) > 0)
        if v is not None
        else False
    )


def _unescape_char(c):
    return {"n": "\n", "r": "\r", "t": "\t", "s": " "}.get(c, c)


def _cleanup(s, delim):
    i = 0
    while i < len(s) and s[i] == " ":
        i += 1
    out = []
    end = None
    inside = False
    while i < len(s):
        c = s[i]
        esc = False
        if c == ESCAPE_META and i + 1 < len(s):
            e = s[i + 1]
            if e in ("'", '"') or (delim and e == delim) or e == ESCAPE_META or _unescape_char(e) != e:
                i += 1
                out.append(_unescape_char(e) if e not in ("'", '"', ESCAPE_META, delim) else e)
                end = len(out)
                esc = True
        if not esc:
            if c == "'" and (inside or "'" in s[i + 1 :]):
                inside = not inside
                if inside:
                    end = len(out)
            else:
                out.append(c)
                if c != " " or inside:
                    end = len(out)
        i += 1
    return "".join(out[:end]) if end is not None else "".join(out)


def separate_string(buf, delim, maxparts):
    """switch_separate_string(buf, delim, array, maxparts) -> list of str."""
    if buf is None:
        return []
    if buf.startswith("^^") and len(buf) > 3:
        delim = buf[2]
        buf = buf[3:]
    parts = []
    i = 0
    n = len(buf)
    if delim == " ":
        inside = False
        state = "START"
        start = 0
        while i < n and len(parts) < maxparts:
            if state == "START":
                start = i
                parts.append(None)
                state = "SKIP_INITIAL"
                continue
            c = buf[i]
            if state == "SKIP_INITIAL":
                if c == " ":
                    i += 1
                else:
                    state = "FIND"
                continue
            if state == "FIND":
                if c == ESCAPE_META:
                    i += 1
                elif c == "'":
                    inside = not inside
                elif c == " " and not inside:
                    parts[-1] = buf[start:i]
                    state = "SKIP_END"
                i += 1
                continue
            if state == "SKIP_END":
                if c == " ":
                    i += 1
                else:
                    state = "START"
        if parts and parts[-1] is None:
            parts[-1] = buf[start:]
        return [_cleanup(p, None) for p in parts]
    inside = False
    start = 0
    state = "START"
    while i < n and len(parts) < maxparts:
        if state == "START":
            start = i
            parts.append(None)
            state = "FIND"
            continue
        c = buf[i]
        if c == ESCAPE_META:
            i += 1
        elif c == "'" and (inside or "'" in buf[i + 1 :]):
            inside = not inside
        elif c == delim and not inside:
            parts[-1] = buf[start:i]
            state = "START"
        i += 1
    if parts and parts[-1] is None:
        parts[-1] = buf[start:]
    return [_cleanup(p, delim) for p in parts]


def _has_vars(s):
    return "$" in s or "\\" in s


def expand_variables(text, get_var, run_api, depth=0):
    """Expand like switch_channel_expand_variables_check.

    get_var(name) -> str or None; run_api(cmd, args) -> str or None.
    """
    if depth > 100 or not text or not _has_vars(text):
        return text
    out = []
    p = 0
    n = len(text)
    while p < n:
        c = text[p]
        if c == "\\":
            nxt = text[p + 1] if p + 1 < n else ""
            if nxt == "$":
                # literal '$' (and '$$')
                p += 1
                if p + 1 < n and text[p + 1] == "$":
                    p += 1
                out.append("$")
                p += 1
                continue
            if nxt == "'":
                p += 2
                continue
            if nxt == "\\":
                out.append("\\")
                p += 2
                continue
        if c == "$" and p + 1 < n:
            q = p + 1
            is_global = False
            if text[q] == "$":
                is_global = True
                q += 1
                if q >= n or text[q] != "{":
                    out.append("$")
                    p = q
                    continue
            if q < n and text[q] == "{":
                # find the matching brace
                s = q + 1
                e = s
                br = 1
                while e < n:
                    if text[e] == "}":
                        br -= 1
                        if br == 0:
                            break
                    elif text[e] == "{" and e != s:
                        br += 1
                    e += 1
                vname = text[s:e]
                p = e + 1
                out.append(_expand_one(vname, get_var, run_api, depth, is_global))
                continue
        out.append(c)
        p += 1
    return "".join(out)


def _expand_one(vname, get_var, run_api, depth, is_global):
    vval = None
    for idx, ch in enumerate(vname):
        if ch == " ":
            vval = vname[idx + 1 :]
            vname = vname[:idx].rstrip(" ")
            break
        if ch == "(":
            rest = vname[idx + 1 :]
            vname = vname[:idx].rstrip(" ")
            # cut at the matching ')'
            br = 1
            j = 0
            while j < len(rest):
                if rest[j] == "(":
                    br += 1
                elif rest[j] == ")":
                    br -= 1
                    if br == 0:
                        break
                j += 1
            vval = rest[:j]
            break
    if vval is not None:
        name = expand_variables(vname, get_var, run_api, depth + 1)
        args = expand_variables(vval, get_var, run_api, depth + 1)
        res = run_api(name, args)
        return res or ""
    name = expand_variables(vname, get_var, run_api, depth + 1)
    offset = ooffset = 0
    if ":" in name:
        name, _, rest = name.partition(":")
        off, _, ln = rest.partition(":")
        offset = _atoi(off)
        ooffset = _atoi(ln)
    val = get_var(name)
    if val is None:
        return ""
    val = expand_variables(val, get_var, run_api, depth + 1)
    if offset >= 0:
        val = "" if offset > len(val) else val[offset:]
    elif abs(offset) <= len(val):
        val = val[len(val) + offset :]
    if 0 < ooffset < len(val):
        val = val[:ooffset]
    return val


def _atoi(s):
    s = s.strip()
    num = ""
    for i, ch in enumerate(s):
        if ch.isdigit() or (i == 0 and ch in "+-"):
            num += ch
        else:
            break
    try:
        return int(num)
    except ValueError:
        return 0
