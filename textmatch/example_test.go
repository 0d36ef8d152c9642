package textmatch_test

import (
	"fmt"

	"github.com/vigil-oss/vigil/textmatch"
)

func ExampleNormalizeURL() {
	u, err := textmatch.NormalizeURL("HTTPS://www.Example.com:443/a/./b/../c/?z=1&a=%7e#top")
	fmt.Println(u, err)
	// Output: https://example.com/a/c?a=~&z=1 <nil>
}

func ExampleURLList_MatchText() {
	var l textmatch.URLList
	if err := l.Add(42, "example.com", textmatch.MatchHost); err != nil {
		panic(err)
	}
	text := "come to files.example[.]com/room now"
	ms, _ := l.MatchText(text)
	for _, m := range ms {
		fmt.Printf("%d %s %q\n", m.ID, m.URL, text[m.Start:m.End])
	}
	// Output: 42 http://files.example.com/room "files.example[.]com/room"
}

func ExampleKeywordList_Match() {
	l, err := textmatch.NewKeywordList([]textmatch.Keyword{
		{ID: 1, Text: "telegram", WholeWord: true},
		{ID: 2, Text: "robux"},
	})
	if err != nil {
		panic(err)
	}
	text := "free R0BUX, add me on t e l e g r a m"
	ms, _ := l.Match(text)
	for _, m := range ms {
		fmt.Printf("%d %s %q\n", m.ID, m.Keyword, text[m.Start:m.End])
	}
	// Output:
	// 2 robux "R0BUX"
	// 1 telegram "t e l e g r a m"
}
