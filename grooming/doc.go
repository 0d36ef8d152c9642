// Package grooming scores conversations for grooming and solicitation risk
// with explanations a reviewer can check (docs/grooming.md in the shared
// design notes).
//
// The pipeline is normaliser → indicator tagger → conversation scorer:
//
//   - Normalisation builds a matching view of each message (compatibility
//     decomposition, case folding, removal of marks and zero-width or format
//     characters, Cyrillic/Greek/small-capital look-alikes, leetspeak,
//     de-spacing of "d i s c o r d", repeat collapsing, emoji as words) while
//     keeping byte offsets into the original text, which is what reviewers see.
//   - The tagger matches multilingual (EN, ES, DE, FR, IT, PT, NL, PL, ET)
//     lexicon patterns for the
//     twelve grooming indicator families, the three financial sextortion
//     families (a threat to share messages or images unless paid, a payment
//     demand in gift cards or crypto, a deadline) and for context cues
//     (caregiver in the loop, surprise, reported speech, safety education,
//     convenience moves, safety advice, evasive age, adult life, a victim's
//     disclosure, a scam report), then applies message-level context rules.
//     A victim telling of a threat is marked as a disclosure naming the
//     speaker as a possible victim, never as the suspect. All languages' patterns apply to every message, as chat
//     code-switches; Polish and Estonian patterns use stems for inflection.
//   - Language identification counts each language's function words per
//     message and per conversation: the risk names the dominant language,
//     the languages of a mixed chat, or marks the conversation
//     "unsupported" when its words are mostly outside the nine languages,
//     so that a low score there is never mistaken for a clean one.
//   - The scorer keeps per directed pair a decayed maximum of each family's
//     evidence (half-lives in wall-clock time), and combines families, their
//     pairwise interactions, breadth, conversation-level context and optional
//     participant metadata in a logistic score. A single keyword is weak by
//     design; two or more boundary-violating families from one speaker are
//     strong.
//
// Score and Append share one code path, so scoring message by message gives
// exactly the batch result; State is plain JSON-serialisable data with a
// bounded size. Fixtures and lexicons are non-explicit: manipulation
// patterns only.
package grooming
