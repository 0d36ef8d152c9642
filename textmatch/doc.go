// Package textmatch matches URLs and keywords against bank lists.
//
// URLs are reduced to one canonical form by NormalizeURL so that the many
// spellings of the same address (case, default ports, "www.", percent
// escapes, query order, punycode, dot-segments, …) hit the same list entry.
// URLList matches exactly, by host (including subdomains) or by path prefix,
// and ExtractURLs finds URLs, obfuscated ones included, in free text.
//
// Keywords are matched with an Aho-Corasick automaton over text normalised
// against common obfuscation (compatibility forms, case, zero-width
// characters, look-alike letters, leetspeak, stretched and spaced-out
// letters); match spans refer to the original text.
//
// Everything here is a pure function of its inputs. Lists are safe for
// concurrent use once built; to change a list, build a new one.
package textmatch
