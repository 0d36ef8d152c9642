package grooming_test

import (
	"encoding/json"
	"fmt"

	"github.com/vigil-oss/vigil/grooming"
)

func ExampleDetector_Score() {
	d := grooming.NewDetector(grooming.Options{})
	r := d.Score(grooming.Conversation{Messages: []grooming.Message{
		{From: "stranger", Text: "how old r u?"},
		{From: "kid", Text: "12"},
		{From: "stranger", Text: "add me on snap, this app reads everything"},
		{From: "stranger", Text: "and don't tell your parents we talk"},
	}})
	fmt.Println(r.Level, r.Suspect, r.Flagged)
	for _, ind := range r.Indicators {
		fmt.Println(ind.Family, ind.Messages)
	}
	// Output:
	// high stranger true
	// secrecy [3]
	// platform_move [2]
	// age_probing [0]
}

func ExampleDetector_Append() {
	d := grooming.NewDetector(grooming.Options{})
	st := grooming.NewState(nil)
	for _, m := range []grooming.Message{
		{From: "a", Text: "are your parents home?"},
		{From: "b", Text: "no, im 12"},
	} {
		d.Append(st, m)
		// The state is plain data: store it between messages.
		b, _ := json.Marshal(st)
		st = new(grooming.State)
		_ = json.Unmarshal(b, st)
	}
	r := d.Append(st, grooming.Message{From: "a", Text: "come alone, I'll pick you up. don't tell anyone"})
	// Levels of the learned scorer are out-of-fold false-positive rates:
	// low is the 5% point, medium (the flag) 1%, high 0.2%.
	fmt.Println(r.Suspect, r.Level, r.Flagged)
	// Output:
	// a high true
}
