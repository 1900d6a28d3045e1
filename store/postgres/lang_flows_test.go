package postgres_test

import (
	"testing"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/flows"
	"github.com/kezekbot/kezekbot/store/postgres"
)

// /lang and the language buttons write the chat's language where notifications read it.
var _ flows.LangStore = (*postgres.DB)(nil)

// TestLangReachesNotifications: a chat bound in Kazakh switches to Russian with /lang ru and
// then with the button back to Kazakh; each time the next notification's target has the
// chat's new language (before, only binding wrote it, and notices kept coming in Kazakh).
func TestLangReachesNotifications(t *testing.T) {
	t.Parallel()
	db, f := MustOpenDB(t)
	ctx := t.Context()
	iin := f.parent(t)
	appID, _ := f.addApp(t, appSpec{Applicant: iin})
	const chat = int64(9200)
	if err := db.Bind(ctx, chat, "kk", evidence(iin)); err != nil {
		t.Fatal(err)
	}
	m := &flows.Machine{Data: db}
	st, _, err := m.Step(ctx, chat, flows.State{Name: flows.SMenu, Lang: flows.Kazakh, IIN: iin, Rev: 1}, flows.Command{Name: "lang", Arg: "ru"})
	if err != nil {
		t.Fatal(err)
	}
	if got := notifiedLang(t, db, appID, chat); got != "ru" {
		t.Fatalf("after /lang ru the notification goes in %q", got)
	}
	st, _, err = m.Step(ctx, chat, st, flows.Press{Action: flows.ActLangKK, Rev: st.Rev})
	if err != nil {
		t.Fatal(err)
	}
	if st.Lang != flows.Kazakh {
		t.Fatalf("state language %q after the Kazakh button", st.Lang)
	}
	if got := notifiedLang(t, db, appID, chat); got != "kk" {
		t.Fatalf("after the Kazakh button the notification goes in %q", got)
	}
	// An unbound chat has nothing to change, and that is not an error.
	if err := db.SetLang(ctx, 9201, "ru"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, db.SetLang(ctx, chat, "en"), kezekbot.EINVALID)
}

// notifiedLang imports a status change of the application and returns the language the
// notifier would write it in for chat.
func notifiedLang(t *testing.T, db *postgres.DB, appID, chat int64) string {
	t.Helper()
	ctx := t.Context()
	ev := postgres.ImportedEvent{Kind: postgres.OutboxStatusChanged, Payload: postgres.EventPayload{ApplicationID: appID, Status: kezekbot.StatusQueued}}
	if _, err := db.ImportEvents(ctx, []postgres.ImportedEvent{ev}); err != nil {
		t.Fatal(err)
	}
	lang := ""
	if _, err := db.ConsumeOutbox(ctx, 10, func(nc postgres.NotifyContext) postgres.NotifyOutput {
		for _, tg := range nc.Targets {
			if tg.ChatID == chat {
				lang = tg.Lang
			}
		}
		return postgres.NotifyOutput{}
	}); err != nil {
		t.Fatal(err)
	}
	return lang
}
