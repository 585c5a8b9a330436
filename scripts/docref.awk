# docref.awk - the runtime reference (docs/reference.md) from the headers.
#
#   awk -f scripts/docref.awk runtime/acx.h runtime/acx_net.h ... > out.md
#
# The headers are the source of truth: each public declaration is preceded
# by the comment that documents it (purpose, errors, thread).  This prints,
# per header, its opening comment, then every section ("/* ---- name" lines
# become headings) with each documented declaration group as a C block
# followed by its comment as text.  Internal names (acx__*), include guards
# and the C++ wrapper are left out.
#
# A public declaration (a function or function-like macro named acx_*, or
# an ACX_ASYNC_DECL) with no comment right above its group is an error:
# its name goes to stderr and the exit status is 1, so `make check-docs`
# fails until it is documented.

function flush_decl() {
    if (ndecl == 0) {
        if (comment != "") { # a comment standing alone: prose
            print comment
            print ""
            comment = ""
        }
        return
    }
    if (nshown > 0 || comment != "") {
        print "```c"
        for (i = 1; i <= ndecl; i++)
            print decl[i]
        print "```"
        print ""
        if (comment != "") {
            print comment
            print ""
        }
    }
    ndecl = 0
    nshown = 0
    comment = ""
}

# The text of a comment line: "/* ", " * ", " */" stripped.
function text_of(line) {
    sub(/^[ \t]*\/\*+[ \t]?/, "", line)
    sub(/^[ \t]*\*+\/[ \t]*$/, "", line)
    sub(/^[ \t]*\*[ \t]?/, "", line)
    sub(/[ \t]*\*+\/[ \t]*$/, "", line)
    return line
}

# NAME was declared; DOC: with a comment above its group or beside it.
function note_name(name, doc) {
    if (doc)
        documented[name] = 1
    else if (!(name in where))
        where[name] = file
}

function public_name(line,    m) {
    if (match(line, /ACX_ASYNC_DECL\([^,]*,[ \t]*acx_[a-z0-9_]+/)) {
        m = substr(line, RSTART, RLENGTH)
        sub(/.*,[ \t]*/, "", m)
        return m
    }
    if (line ~ /^#define acx_[a-z0-9_]+\(/) {
        m = line
        sub(/^#define /, "", m)
        sub(/\(.*/, "", m)
        return m
    }
    if (line ~ /^#/ || line ~ /^[ \t]/)
        return ""
    if (match(line, /[ *]acx_[a-z0-9_]+[ \t]*\(/) || match(line, /^acx_[a-z0-9_]+[ \t]*\(/)) {
        m = substr(line, RSTART, RLENGTH)
        gsub(/[ *(\t]/, "", m)
        return m ~ /^acx__/ ? "" : m
    }
    return ""
}

FNR == 1 {
    flush_decl()
    file = FILENAME
    sub(/.*\//, "", file)
    in_comment = 0; top_done = 0; comment = ""; ndecl = 0; depth = 0
    in_macro = 0; in_trailing = 0; in_body = 0; skip = 0
}

# continuation lines of a #define: its body is not shown
in_macro {
    in_macro = ($0 ~ /\\$/)
    next
}

# the rest of a comment that began after code on a declaration's line
in_trailing {
    decl[++ndecl] = $0
    in_trailing = ($0 !~ /\*\//)
    next
}

in_comment {
    t = text_of($0)
    if ($0 ~ /\*\//) {
        in_comment = 0
        if (t != "")
            ctext = ctext (ctext == "" ? "" : "\n") t
        end_comment()
    } else {
        ctext = ctext (ctext == "" ? "" : "\n") t
    }
    next
}

function end_comment() {
    if (!top_done) {
        # the header's opening comment: "name.h - title" then the intro
        top_done = 1
        # its first paragraph is the title, the rest the introduction
        n = split(ctext, L, "\n")
        title = L[1]
        for (k = 2; k <= n && L[k] != ""; k++)
            title = title " " L[k]
        sub(/^[a-z_]+\.h - /, "", title)
        gsub(/ \(issues? [0-9, and]+\)/, "", title)
        gsub(/issues? [0-9]+; /, "", title)
        more = ""
        if (match(title, /\.  /)) { # the first sentence is the title
            more = substr(title, RSTART + 3)
            title = substr(title, 1, RSTART)
        }
        gsub(/ *Included by acx\.h(; see it for the conventions)?\. */, "", more)
        print "## " file ": " title
        print ""
        if (more != "") {
            print more
            print ""
        }
        for (; k <= n; k++)
            if (L[k] != "" || k > 1 && L[k - 1] != "")
                print L[k]
        print ""
        ctext = ""
        return
    }
    if (ctext ~ /^-+ .* -*$/ || ctext ~ /^-+ /) {
        # a section rule: "---- name ----"
        flush_decl()
        h = ctext
        sub(/\n.*/, "", h)
        sub(/^-+ /, "", h)
        sub(/[ \t]*-*[ \t]*$/, "", h)
        rest = ctext
        if (sub(/^[^\n]*\n/, "", rest) == 0)
            rest = ""
        skip = (h ~ /internal/)
        if (skip)
            return
        print "### " h
        print ""
        comment = rest # documents what follows, or stands alone
        ctext = ""
        return
    }
    flush_decl()
    comment = ctext
    ctext = ""
}

skip && !/^[ \t]*\/\* -+ / {
    next
}

/^[ \t]*\/\*/ {
    t = text_of($0)
    if ($0 ~ /\*\// && $0 !~ /^[ \t]*\/\*.*\*\/.+[^ \t]/) {
        # one-line comment
        ctext = t
        end_comment()
        next
    }
    if ($0 ~ /\*\//) {
        next # a trailing comment after code on one line: part of that code
    }
    in_comment = 1
    ctext = t
    next
}

/^#ifndef ACX_([A-Z_]*_)?H$/ || /^#define ACX_([A-Z_]*_)?H$/ || /^#endif/ || \
/^#include/ || /^#ifdef __cplusplus/ || /^extern "C"/ || /^}$/ || \
/^#ifdef __ACXC__/ || /^#else/ || /^#if/ {
    next
}

/^[ \t]*$/ {
    flush_decl()
    next
}

# an inline function's body (declared and documented above): not shown
/^{/ {
    ndecl = 0; nshown = 0; comment = ""
    in_body = 1
    next
}
in_body {
    in_body = ($0 !~ /^}/)
    next
}

{
    name = public_name($0)
    is_internal = ($0 ~ /acx__/ && name == "") || ($0 ~ /^#define acx__/) || \
                  ($0 ~ /^#define ACX__/)
    if ($0 ~ /^#define/) {
        show_macro = !is_internal && ($0 ~ /^#define (acx_|ACX_)/)
        in_macro = ($0 ~ /\\$/)
        line = $0
        if (in_macro) {
            sub(/[ \t]*\\$/, "", line)
            line = line " ..."
        }
        if (show_macro)
            decl[++ndecl] = line
        if (name != "" && show_macro)
            note_name(name, comment != "" || nshown > 0 && group_doc)
        if (show_macro)
            nshown++
        next
    }
    if (is_internal)
        next
    trailing = ($0 ~ /[;,)][ \t]*\/\*/)
    if (nshown == 0)
        group_doc = (comment != "")
    if (name != "")
        note_name(name, group_doc || trailing)
    decl[++ndecl] = $0
    nshown++
    in_trailing = trailing && ($0 !~ /\*\//)
}

END {
    flush_decl()
    bad = 0
    for (n in where) {
        if (n in documented)
            continue
        print "docref: " where[n] ": " n " has no comment" > "/dev/stderr"
        bad = 1
    }
    exit bad
}
