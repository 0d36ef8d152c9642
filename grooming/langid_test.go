package grooming

import (
	"testing"
)

func TestIdentifyLanguage(t *testing.T) {
	d := NewDetector(Options{})
	for _, c := range []struct{ text, want string }{
		{"hey how old are you and what school do you go to", "en"},
		{"hola que tal, cuantos años tienes?", "es"},
		{"hallo wie alt bist du und wo wohnst du", "de"},
		{"salut tu as quel âge et tu habites où", "fr"},
		{"ciao quanti anni hai? dove abiti", "it"},
		{"oi quantos anos você tem? onde você mora", "pt"},
		{"hoi hoe oud ben jij en waar woon je", "nl"},
		{"cześć ile masz lat? gdzie mieszkasz", "pl"},
		{"tere kui vana sa oled ja kus sa elad", "et"},
		{"lol", ""},
	} {
		if got := d.IdentifyLanguage(c.text); got != c.want {
			t.Errorf("IdentifyLanguage(%q) = %q, want %q", c.text, got, c.want)
		}
	}
}

// TestLanguageShares prints and checks the share of function words per
// dev conversation: supported-language chat must stay above the
// unsupported cut.
func TestLanguageShares(t *testing.T) {
	d := NewDetector(Options{})
	for _, file := range []string{"testdata/dev.jsonl", "testdata/dev_hand.jsonl", "testdata/heldout.jsonl", "testdata/dev_lang.jsonl"} {
		for _, r := range readRecords(t, file) {
			risk := d.Score(r.Conversation)
			if risk.Unsupported {
				t.Errorf("%s %s (%s): marked unsupported", file, r.ID, r.Lang)
			}
			if r.Lang != "" && risk.Language != "" && risk.Language != r.Lang {
				t.Logf("%s %s: lang %s identified as %s %v", file, r.ID, r.Lang, risk.Language, risk.Languages)
			}
		}
	}
}

// TestUnsupportedLanguageMarked: a conversation in a language the lexicons
// do not cover must say so rather than score silently low.
func TestUnsupportedLanguageMarked(t *testing.T) {
	d := NewDetector(Options{})
	convs := map[string][]string{
		"sv": {"hej hur gammal är du egentligen", "jag är tretton", "du verkar mogen för din ålder, berätta inte för dina föräldrar att vi pratar", "okej varför inte", "de skulle inte förstå oss, vi kan ses på lördag"},
		"fi": {"moi kuinka vanha sinä olet", "olen kolmetoista", "vaikutat kypsältä ikäisellesi, älä kerro vanhemmillesi että juttelemme", "miksi ei", "he eivät ymmärtäisi, voidaan nähdä lauantaina"},
		"cs": {"ahoj kolik je ti let", "třináct", "působíš vyspěle na svůj věk, neříkej rodičům že si píšeme", "proč ne", "nepochopili by nás, můžeme se vidět v sobotu"},
		"hu": {"szia hány éves vagy", "tizenhárom", "nagyon érettnek tűnsz a korodhoz képest, ne mondd el a szüleidnek hogy beszélünk", "miért ne", "nem értenék meg, szombaton találkozhatunk"},
		// Scripts written without spaces, and scripts the look-alike folding
		// turns into Latin nonsense.
		"zh": {"你好，你今年几岁了？", "十三岁", "你看起来比同龄人成熟多了，别告诉你父母我们在聊天", "为什么", "他们不会理解的，我们周六见面吧"},
		"ru": {"привет, сколько тебе лет?", "тринадцать", "ты выглядишь взрослее своих лет, не говори родителям что мы общаемся", "почему", "они не поймут, давай встретимся в субботу"},
		"ar": {"مرحبا كم عمرك", "ثلاثة عشر", "تبدين ناضجة جدا بالنسبة لعمرك، لا تخبري والديك أننا نتحدث", "لماذا", "لن يفهموا، لنلتق يوم السبت"},
		"tr": {"selam kaç yaşındasın", "on üç", "yaşına göre çok olgun görünüyorsun, ailene konuştuğumuzu söyleme", "neden", "anlamazlar, cumartesi buluşabiliriz"},
	}
	for lang, texts := range convs {
		var c Conversation
		for i, tx := range texts {
			c.Messages = append(c.Messages, Message{From: []string{"a", "b"}[i%2], Text: tx})
		}
		r := d.Score(c)
		if !r.Unsupported || r.Language != UnsupportedLanguage {
			t.Errorf("%s: unsupported %v language %q, want the unsupported marker", lang, r.Unsupported, r.Language)
		}
	}
	// A short supported-language exchange is not unsupported, only unknown.
	r := d.Score(Conversation{Messages: []Message{{From: "a", Text: "ok"}, {From: "b", Text: "lol"}}})
	if r.Unsupported || r.Language != "" {
		t.Errorf("short chat: unsupported %v language %q", r.Unsupported, r.Language)
	}
}

// TestMixedChatLanguages: a chat that switches language lists both.
func TestMixedChatLanguages(t *testing.T) {
	d := NewDetector(Options{})
	r := d.Score(Conversation{Messages: []Message{
		{From: "a", Text: "hey how are you doing today"},
		{From: "b", Text: "cześć, jestem w domu, a ty?"},
		{From: "a", Text: "i am at work but it is so boring"},
	}})
	if r.Language != "en" || len(r.Languages) != 2 || r.Languages[0] != "en" || r.Languages[1] != "pl" {
		t.Errorf("mixed chat: language %q languages %v, want en and [en pl]", r.Language, r.Languages)
	}
}
