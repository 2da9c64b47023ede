# lib.sh: what kafka.sh and s3.sh share, sourced by both. The sourcing
# script defines die (its own name as the prefix) and the variables its
# options set, with their defaults.

# parse_options NAME... -- ARG...: reads ARGs as "--NAME VALUE" pairs into
# the variable named after each option in capitals with _ for - (--base-port
# sets BASE_PORT); an option not among the NAMEs is an error. --dir is
# required and made absolute: every command names the folder it works in.
parse_options() {
	local -a names=()
	while [[ "$1" != -- ]]; do names+=("$1"); shift; done
	shift
	local name var
	while [[ $# -gt 0 ]]; do
		name="${1#--}"
		[[ "$1" == --* && " ${names[*]} " == *" $name "* ]] || die "unknown option $1"
		[[ $# -ge 2 ]] || die "$1 needs a value"
		var="${name//-/_}"
		printf -v "${var^^}" '%s' "$2"
		shift 2
	done
	[[ -n "$DIR" ]] || die "--dir is required"
	DIR="$(realpath -m "$DIR")"
}

# pid_runs PIDFILE TEXT...: tells whether PIDFILE names a live process whose
# command line (its arguments joined by spaces) contains one of the TEXTs. A
# recycled pid does not count, nor a zombie, whose cmdline is empty.
pid_runs() {
	local file="$1" pid cmdline text
	shift
	[[ -f "$file" ]] || return 1
	pid="$(cat "$file")"
	[[ -n "$pid" && -r "/proc/$pid/cmdline" ]] || return 1
	cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline")"
	for text in "$@"; do
		[[ "$cmdline" == *"$text"* ]] && return 0
	done
	return 1
}

# port_open tells whether something accepts connections on 127.0.0.1:PORT.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
