#!/usr/bin/env bash
# Speaks the demo's conversations (crates/services/demo-audio/dialogues.txt) into the
# MP3 files the demo stores, and their durations into manifest.tsv. Run it after editing
# the dialogues; the output is committed, so the demo needs no speech synthesizer.
# Needs Debian's flite, sox and lame: apt-get install flite sox lame
set -euo pipefail
dir="$(cd "$(dirname "$0")/../crates/services/demo-audio" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
rate=16000
pause="$work/pause.wav"
sox -n -r "$rate" -c 2 -b 16 "$pause" trim 0 0.6

speak() { # voice text out.wav
    flite -voice "$1" -t "$2" -o "$work/raw.wav"
    sox "$work/raw.wav" -r "$rate" -c 1 -b 16 "$3"
}

finish() { # name channels
    local name="$1" channels="$2" turns=("$work"/turn-*.wav)
    sox "${turns[@]}" "$work/all.wav"
    if [ "$channels" = 1 ]; then
        sox "$work/all.wav" -c 1 "$work/out.wav"
        lame --quiet -m m -b 32 "$work/out.wav" "$dir/$name.mp3"
    else
        lame --quiet -m s -b 48 "$work/all.wav" "$dir/$name.mp3"
    fi
    local ms
    ms=$(soxi -D "$work/all.wav" | awk '{printf "%d", $1 * 1000}')
    printf '%s\t%s\t%s\n' "$name" "$ms" "$topic" >>"$dir/manifest.tsv"
    rm -f "$work"/turn-*.wav
}

: >"$dir/manifest.tsv"
name="" topic="" n=0
while IFS= read -r line; do
    case "$line" in
    "#"* | "") continue ;;
    "= "*)
        [ -n "$name" ] && finish "$name" "$channels"
        read -r _ name topic <<<"$line"
        case "$topic" in voicemail | ivr) channels=1 ;; *) channels=2 ;; esac
        n=0
        ;;
    A:* | C:*)
        n=$((n + 1))
        who="${line%%:*}" text="${line#*: }"
        if [ "$who" = A ]; then voice=slt; else voice=rms; fi
        speak "$voice" "$text" "$work/line.wav"
        len=$(soxi -D "$work/line.wav")
        sox -n -r "$rate" -c 1 -b 16 "$work/quiet.wav" trim 0 "$len"
        if [ "$who" = A ]; then
            sox -M "$work/line.wav" "$work/quiet.wav" "$work/said.wav"
        else
            sox -M "$work/quiet.wav" "$work/line.wav" "$work/said.wav"
        fi
        sox "$work/said.wav" "$pause" "$work/turn-$(printf %03d "$n").wav"
        ;;
    esac
done <"$dir/dialogues.txt"
[ -n "$name" ] && finish "$name" "$channels"
ls -l "$dir"/*.mp3 | awk '{s += $5} END {print s " bytes of audio"}'
