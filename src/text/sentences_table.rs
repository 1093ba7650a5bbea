//! The splitter's test table: cases the team wrote from real wire-copy
//! habits. Each case is the input and the sentences it must split into.

use super::split_sentences;

const HARD_WRAPPED: &str = "GENEVA (Reuters) - Russian and U.S. negotiators met in Geneva on\n\
Monday for talks on European security, with Moscow pressing its\n\
demands that NATO halt its eastward expansion. The talks ended\n\
after nearly eight hours without a breakthrough on any issue.";

const HARD_WRAPPED_WITH_BYLINE: &str = "By Jane Doe\n\
GENEVA (Reuters) - Russian and U.S. negotiators met in Geneva on\n\
Monday for talks on European security, with Moscow pressing its\n\
demands that NATO halt its eastward expansion. The talks ended\n\
after nearly eight hours without a breakthrough on any issue.";

const HARD_WRAPPED_PARAGRAPHS: &str = "GENEVA (Reuters) - Russian and U.S. negotiators met in Geneva on\n\
Monday for talks on European security, with Moscow pressing its\n\
demands that NATO halt its eastward expansion\n\
\n\
The talks ended after nearly eight hours without a breakthrough on\n\
any of the issues that divide the two sides, officials said later.";

const CASES: &[(&str, &[&str])] = &[
    // Abbreviations and titles.
    (
        "Dr. Jane Smith arrived. She spoke.",
        &["Dr. Jane Smith arrived.", "She spoke."],
    ),
    (
        "Gen. Mark Milley met Sen. Jack Reed. They talked.",
        &["Gen. Mark Milley met Sen. Jack Reed.", "They talked."],
    ),
    (
        "The vote is on Sept. 14 in Washington. Polls open early.",
        &[
            "The vote is on Sept. 14 in Washington.",
            "Polls open early.",
        ],
    ),
    (
        "Talks resume Jan. 10, officials said. Nothing else is planned.",
        &[
            "Talks resume Jan. 10, officials said.",
            "Nothing else is planned.",
        ],
    ),
    (
        "The meeting starts at 9 a.m. and ends at 5 p.m. on Friday. Reporters may attend.",
        &[
            "The meeting starts at 9 a.m. and ends at 5 p.m. on Friday.",
            "Reporters may attend.",
        ],
    ),
    (
        "He arrived at 10 a.m. The talks began soon after.",
        &["He arrived at 10 a.m.", "The talks began soon after."],
    ),
    (
        "Talks resumed at 2 p.m. Officials declined to comment.",
        &["Talks resumed at 2 p.m.", "Officials declined to comment."],
    ),
    (
        "The U.S. and the U.K. signed the deal. It takes effect in May.",
        &[
            "The U.S. and the U.K. signed the deal.",
            "It takes effect in May.",
        ],
    ),
    (
        "Shares of Apple Inc. rose 3%. Rivals fell.",
        &["Shares of Apple Inc. rose 3%.", "Rivals fell."],
    ),
    (
        "Acme Ltd. said profits fell. Its shares dropped.",
        &["Acme Ltd. said profits fell.", "Its shares dropped."],
    ),
    (
        "He lives at No. 10 Downing St. in London. Visitors queue outside.",
        &[
            "He lives at No. 10 Downing St. in London.",
            "Visitors queue outside.",
        ],
    ),
    (
        "It was Federer vs. Nadal again. Federer won.",
        &["It was Federer vs. Nadal again.", "Federer won."],
    ),
    (
        "The firm is based in the U.K. Its chief executive resigned.",
        &[
            "The firm is based in the U.K.",
            "Its chief executive resigned.",
        ],
    ),
    (
        "Prices rose in the U.S. But they fell in Europe.",
        &["Prices rose in the U.S.", "But they fell in Europe."],
    ),
    (
        "St. Petersburg hosted the forum. Leaders attended.",
        &["St. Petersburg hosted the forum.", "Leaders attended."],
    ),
    (
        "Lt. Col. Ann Ray and Capt. Tom Lee spoke. Both were brief.",
        &[
            "Lt. Col. Ann Ray and Capt. Tom Lee spoke.",
            "Both were brief.",
        ],
    ),
    (
        "Mr. and Mrs. Smith left. The house was empty.",
        &["Mr. and Mrs. Smith left.", "The house was empty."],
    ),
    (
        "Prof. Li, of Peking Univ., spoke. The audience listened.",
        &[
            "Prof. Li, of Peking Univ., spoke.",
            "The audience listened.",
        ],
    ),
    (
        "He earned a Ph.D. in physics. Then he taught.",
        &["He earned a Ph.D. in physics.", "Then he taught."],
    ),
    (
        "The U.N. Security Council met. It voted.",
        &["The U.N. Security Council met.", "It voted."],
    ),
    (
        "Numbers like No. 5 and No. 6 stayed. No. 7 left.",
        &["Numbers like No. 5 and No. 6 stayed.", "No. 7 left."],
    ),
    // Initials.
    (
        "J. R. R. Tolkien wrote the book. It sold well.",
        &["J. R. R. Tolkien wrote the book.", "It sold well."],
    ),
    (
        "George W. Bush met Vladimir Putin. They spoke for an hour.",
        &[
            "George W. Bush met Vladimir Putin.",
            "They spoke for an hour.",
        ],
    ),
    (
        "The author, E. B. White, lived in Maine. He wrote essays.",
        &[
            "The author, E. B. White, lived in Maine.",
            "He wrote essays.",
        ],
    ),
    // Decimals, money, percentages.
    (
        "Revenue rose to $10.9bn from $9.8bn. Profit fell 3.5%.",
        &["Revenue rose to $10.9bn from $9.8bn.", "Profit fell 3.5%."],
    ),
    (
        "The index closed at 1,234.56 points. Trading was thin.",
        &["The index closed at 1,234.56 points.", "Trading was thin."],
    ),
    (
        "Inflation was 2.5 percent in March. Economists expected 2.4 percent.",
        &[
            "Inflation was 2.5 percent in March.",
            "Economists expected 2.4 percent.",
        ],
    ),
    (
        "The company earned £1.2m last year. It plans to expand.",
        &["The company earned £1.2m last year.", "It plans to expand."],
    ),
    (
        "The score was 3-2. Fans celebrated!",
        &["The score was 3-2.", "Fans celebrated!"],
    ),
    // Quotes.
    (
        "\"We are ready.\" Lavrov said nothing more.",
        &["\"We are ready.\"", "Lavrov said nothing more."],
    ),
    (
        "\"Are we ready?\" he asked. Nobody answered.",
        &["\"Are we ready?\" he asked.", "Nobody answered."],
    ),
    (
        "'Stop!' she shouted. The car stopped.",
        &["'Stop!' she shouted.", "The car stopped."],
    ),
    (
        "“We will not back down,” the minister said. “Never.”",
        &["“We will not back down,” the minister said.", "“Never.”"],
    ),
    (
        "He called it “a historic day.” The crowd cheered.",
        &["He called it “a historic day.”", "The crowd cheered."],
    ),
    (
        "She said: ‘It is over.’ Then she left.",
        &["She said: ‘It is over.’", "Then she left."],
    ),
    (
        "\"Why now?\" asked one delegate.",
        &["\"Why now?\" asked one delegate."],
    ),
    // Ellipses.
    (
        "He paused... and then continued. The room was silent.",
        &["He paused... and then continued.", "The room was silent."],
    ),
    (
        "The talks went on and on… Nobody left.",
        &["The talks went on and on…", "Nobody left."],
    ),
    (
        "Wait for it . . . nothing happened.",
        &["Wait for it . . . nothing happened."],
    ),
    // Parentheses.
    (
        "The plan (which critics oppose) passed. Voting was close.",
        &[
            "The plan (which critics oppose) passed.",
            "Voting was close.",
        ],
    ),
    (
        "The plan passed (by two votes). Critics objected.",
        &["The plan passed (by two votes).", "Critics objected."],
    ),
    (
        "He left early. (He had a train to catch.) The meeting went on.",
        &[
            "He left early.",
            "(He had a train to catch.)",
            "The meeting went on.",
        ],
    ),
    // Datelines.
    (
        "GENEVA (Reuters) - Russia and the U.S. began talks on Monday. The talks are expected to last a day.",
        &[
            "GENEVA (Reuters) - Russia and the U.S. began talks on Monday.",
            "The talks are expected to last a day.",
        ],
    ),
    (
        "WASHINGTON (AP) — The Senate passed the bill late Tuesday. The House votes next week.",
        &[
            "WASHINGTON (AP) — The Senate passed the bill late Tuesday.",
            "The House votes next week.",
        ],
    ),
    (
        "LONDON, Jan 10 (Reuters) - British inflation rose to 5.4% in December. Economists had expected 5.2%.",
        &[
            "LONDON, Jan 10 (Reuters) - British inflation rose to 5.4% in December.",
            "Economists had expected 5.2%.",
        ],
    ),
    // Bylines on their own line; layout.
    (
        "By Jane Doe\nGENEVA (Reuters) - The talks began on Monday. They ended late.",
        &[
            "By Jane Doe",
            "GENEVA (Reuters) - The talks began on Monday.",
            "They ended late.",
        ],
    ),
    (
        HARD_WRAPPED,
        &[
            "GENEVA (Reuters) - Russian and U.S. negotiators met in Geneva on\nMonday for talks on European security, with Moscow pressing its\ndemands that NATO halt its eastward expansion.",
            "The talks ended\nafter nearly eight hours without a breakthrough on any issue.",
        ],
    ),
    (
        HARD_WRAPPED_WITH_BYLINE,
        &[
            "By Jane Doe",
            "GENEVA (Reuters) - Russian and U.S. negotiators met in Geneva on\nMonday for talks on European security, with Moscow pressing its\ndemands that NATO halt its eastward expansion.",
            "The talks ended\nafter nearly eight hours without a breakthrough on any issue.",
        ],
    ),
    (
        HARD_WRAPPED_PARAGRAPHS,
        &[
            "GENEVA (Reuters) - Russian and U.S. negotiators met in Geneva on\nMonday for talks on European security, with Moscow pressing its\ndemands that NATO halt its eastward expansion",
            "The talks ended after nearly eight hours without a breakthrough on\nany of the issues that divide the two sides, officials said later.",
        ],
    ),
    (
        "Talks end without deal\n\nThe talks ended on Monday.",
        &["Talks end without deal", "The talks ended on Monday."],
    ),
    (
        "First sentence.   Second sentence.",
        &["First sentence.", "Second sentence."],
    ),
    // Bullet lists.
    (
        "Key points:\n- Talks ended\n- No deal was reached",
        &["Key points:", "- Talks ended", "- No deal was reached"],
    ),
    (
        "Highlights:\n• Inflation rose\n• Rates held",
        &["Highlights:", "• Inflation rose", "• Rates held"],
    ),
    (
        "The plan has three parts:\n1. Cut taxes\n2. Raise spending\n3. Reform pensions",
        &[
            "The plan has three parts:",
            "1. Cut taxes",
            "2. Raise spending",
            "3. Reform pensions",
        ],
    ),
    // No final punctuation.
    ("Talks end without a deal", &["Talks end without a deal"]),
    (
        "The talks ended. No deal was reached",
        &["The talks ended.", "No deal was reached"],
    ),
    // Lowercased, tokenized copy.
    (
        "the talks ended . nato did not reply .",
        &["the talks ended .", "nato did not reply ."],
    ),
    (
        "he said `` we are ready . '' the talks went on .",
        &["he said `` we are ready . ''", "the talks went on ."],
    ),
    (
        "officials met in the u.s. capital on monday . the talks were long .",
        &[
            "officials met in the u.s. capital on monday .",
            "the talks were long .",
        ],
    ),
    (
        "it 's worth $ 10.9 million , he said . the deal closed friday .",
        &[
            "it 's worth $ 10.9 million , he said .",
            "the deal closed friday .",
        ],
    ),
    (
        "-lrb- cnn -rrb- the talks ended . both sides spoke .",
        &["-lrb- cnn -rrb- the talks ended .", "both sides spoke ."],
    ),
    (
        "mr. ryabkov spoke . dr. li did not .",
        &["mr. ryabkov spoke .", "dr. li did not ."],
    ),
    // Other languages.
    (
        "会谈结束。双方发言！下周再谈？",
        &["会谈结束。", "双方发言！", "下周再谈？"],
    ),
    (
        "¿Qué pasó en Ginebra? ¡Nada! Las conversaciones terminaron.",
        &[
            "¿Qué pasó en Ginebra?",
            "¡Nada!",
            "Las conversaciones terminaron.",
        ],
    ),
    (
        "Die Gespräche am 3. Oktober endeten ohne Ergebnis. Es regnete.",
        &[
            "Die Gespräche am 3. Oktober endeten ohne Ergebnis.",
            "Es regnete.",
        ],
    ),
    (
        "Er wurde am 24. Dezember geboren. Das war ein Montag.",
        &["Er wurde am 24. Dezember geboren.", "Das war ein Montag."],
    ),
    (
        "Le président a parlé. Il a dit « non ». La salle s’est tue.",
        &[
            "Le président a parlé.",
            "Il a dit « non ».",
            "La salle s’est tue.",
        ],
    ),
    (
        "Москва и Вашингтон провели переговоры. Итогов нет.",
        &["Москва и Вашингтон провели переговоры.", "Итогов нет."],
    ),
    // Odds and ends.
    ("", &[]),
    ("   \n\n  ", &[]),
    (
        "Visit example.com for details. It is free.",
        &["Visit example.com for details.", "It is free."],
    ),
    (
        "Really?! Yes. Absolutely.",
        &["Really?!", "Yes.", "Absolutely."],
    ),
];

#[test]
fn the_table_has_at_least_sixty_cases() {
    assert!(CASES.len() >= 60, "{} cases", CASES.len());
}

#[test]
fn every_case_splits_as_written() {
    let mut failures = Vec::new();
    for (input, expected) in CASES {
        let got: Vec<&str> = split_sentences(input)
            .iter()
            .map(|s| s.text(input))
            .collect();
        if got != *expected {
            failures.push(format!(
                "input:    {input:?}\nexpected: {expected:?}\ngot:      {got:?}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases fail:\n\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n\n")
    );
}
