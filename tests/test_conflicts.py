"""A sentence that states the asked fact of something else is never read
(service.conflicts): each kind of specifier contradicted, and the near cases that
must still be read (the question's own specifier stated, a paraphrase, a comparison,
another country elsewhere in the sentence)."""

from __future__ import annotations

import pytest

from service.answering import ask
from service.conflicts import Specifiers, mentions, numbers_in
from service.pipeline import build_pipeline

CAMERON = (
    "British Foreign Secretary David Cameron, during a diplomatic visit to the US, urged Republicans to avoid "
    "withholding additional financial support, warning that such action would be a boon for Russian President "
    "Vladimir Putin."
)
AID = (
    "In total, as the US Department of Defense informed, the USA has already committed more than $29,8 billion in "
    "security assistance to Ukraine since the beginning of Russia’s full-scale war."
)
THANKS = (
    "I am grateful to the US Secretary of Defense Lloyd Austin, the US Secretary of Commerce Gina Raimondo, our "
    "colleagues from the State Department, and the US National Security Council."
)
WINNER = "Anna Berg of Sweden won the 2025 Lakeside Marathon on Sunday in two hours and 21 minutes."
SECOND = "Maria Lopez of Spain finished second, four minutes behind the winner."
FINAL = "Germany won the 2014 World Cup, beating Argentina 1-0 in the final."

CONTRADICTED = [
    ("Who is the president of Ukraine?", CAMERON),  # another country's president
    ("Which French foreign minister visited the US?", CAMERON),
    ("Who is Ukraine's foreign minister?", CAMERON),
    ("How much security assistance has the United Kingdom committed to Ukraine?", AID),
    ("Who is the US Secretary of State?", THANKS),  # other portfolios
    ("Who is Northwind Shipping's new finance director?", "Northwind named Jane Roe as its new chief executive."),
    ("Who is the chief executive of Northwind?", "Peter Hale, the company's chairman, retired in May."),
    ("Who finished third in the 2025 Lakeside Marathon?", WINNER),
    ("Who finished third in the 2025 Lakeside Marathon?", SECOND),
    ("Who finished second in the 2025 Lakeside Marathon?", WINNER),
    ("Who won the 2025 Lakeside Marathon?", SECOND.replace(" behind the winner", "")),
    ("When will the first season of The Blacklist premiere?", "The Season 10 premiere is on Sunday, February 26."),
    ("What was signed on the second day of the conference?", "On the first day of the conference, a pact was signed."),
    ("When did the war in Ukraine end?", "Aid has flowed since the onset of the war in Ukraine in February 2022."),
    ("Which dish was voted the most popular?", "Fish soup was voted the most unpopular dish."),
    ("Which city suffered the most damage?", "The least damage was in Lviv."),
    # whose office: the asked one, but another country's
    ("Who is Russia's foreign minister?", CAMERON),
    # what the question asks for is not in the sentence
    ("How much has the European Union committed to Ukraine?", AID),  # a union of countries acts as one
    # whose aid: another country's anywhere in the sentence
    (
        "How much military aid has the United Kingdom pledged to Ukraine?",
        "The US announced a $175 million aid package.",
    ),
]

READ = [
    ("Who is the US Secretary of Commerce?", THANKS),  # the asked portfolio is there
    ("Who is the president of Russia?", CAMERON),  # "Russian" is Russia's
    ("Who is Britain's foreign secretary?", CAMERON),
    ("When did the conference take place?", "The conference took place on December 6-7, 2023."),
    ("When did the war begin?", "Aid has flowed since the onset of the war."),
    ("How many representatives attended?", CAMERON),  # what the sentence must hold is the reader's to judge
    ("Which country was hit by the earthquake?", "Estmark was hit by a strong earthquake."),  # no list of countries
    ("How much security assistance has the US committed to Ukraine?", AID),
    ("Who finished second in the 2025 Lakeside Marathon?", SECOND),
    ("Who was the runner-up of the 2014 World Cup?", FINAL),  # the beaten finalist is named
    ("Who won the 2014 World Cup?", FINAL),
    ("Which dish was voted the most popular?", "The most popular dish was lamb stew."),
    ("When did the war in Ukraine begin?", "Aid has flowed since the onset of the war in February 2022."),
    ("Who is the foreign minister of France?", "The minister said the talks would go on."),  # portfolio unstated
    ("Did the US or the UK pledge more?", "The US pledged $5bn."),  # a comparison names both
    ("Which company will build the plant in Poland?", "Siemens, a German company, will build the plant."),
    ("Who said allies must help Ukraine deter Russian aggression?", "The US defence secretary said allies must help."),
    ("Who is the CEO of Tesla?", "Tesla chief executive Elon Musk said sales rose."),  # an alias of the office
    ("Who won the election?", "She won by a wide margin."),
    ("Who urged Republicans to keep up support?", CAMERON),  # nothing specified
    ("Which city hosted the fisheries summit?", "OSLO — Ministers from eleven countries met."),
]


@pytest.mark.parametrize(("question", "sentence"), CONTRADICTED)
def test_contradicted(question, sentence):
    assert Specifiers.of(question).contradicted_by(sentence)


@pytest.mark.parametrize(("question", "sentence"), READ)
def test_read(question, sentence):
    assert not Specifiers.of(question).contradicted_by(sentence)


def test_a_city_asked_for():
    """ "Which city" needs a place that is no country among the sentence's places (spaCy's
    GPE entities, from the index): "the US" does not answer it, "Washington" does."""
    spec = Specifiers.of("In which US city did Cameron meet Republicans?")
    assert spec.contradicted_by(CAMERON, frozenset({"US"}))
    assert not spec.contradicted_by("Cameron met Republicans in Washington.", frozenset({"Washington"}))
    assert not spec.contradicted_by(CAMERON)  # no entities to go by: not checked


def test_country_spellings():
    """Names, demonyms and the aliases news writes, each one country; two-letter words are not countries."""
    found = {m.value for m in mentions("The UK, Britain, the U.S., American and Ukrainian officials met.")}
    assert found == {"GB", "US", "UA"}
    assert not [m for m in mentions("IT IS IN ME TO GO") if m.kind == "country"]


def test_a_question_without_specifiers_checks_nothing():
    spec = Specifiers.of("What does the weapons production collaboration aim to fortify?")
    assert not spec
    assert not spec.contradicted_by(CAMERON)


def test_when_and_how_many_need_a_time_and_a_number():
    assert Specifiers.of("When was Umerov appointed?").lacks("Rustem Umerov, Minister of Defence of Ukraine, spoke.")
    assert not Specifiers.of("When did the war begin?").lacks("Aid has flowed since the onset of the war.")
    assert Specifiers.of("How many launchers does the package include?").lacks("It includes air defense munitions.")
    assert not Specifiers.of("How many representatives attended?").lacks("It drew over 300 representatives.")
    assert not Specifiers.of("Who is the US Secretary of Commerce?").lacks(CAMERON)  # asks for neither


def test_a_year_or_the_questions_own_number_is_no_amount():
    budget = Specifiers.of("How much money is in Ukraine's unprecedented 2024 defence budget?")
    assert budget.lacks(
        "In 2024, “an unprecedented budget” for developing Ukrainian defence production will be allocated."
    )
    assert not budget.lacks("In 2024, a budget of $12 billion will be allocated.")
    # a year-like number that counts something is a count ("2000 troops")
    assert not Specifiers.of("How many troops were sent in 2003?").lacks("In 2003, 2000 troops were sent.")
    # the question's own number answers nothing: "350" is what it names
    europeans = Specifiers.of("How many of the 350 representatives came from Europe?")
    assert europeans.lacks("The conference drew about 350 representatives.")
    assert not europeans.lacks("Of the 350 representatives, 120 came from Europe.")


def test_the_nth_of_a_series_must_be_stated():
    spec = Specifiers.of("What agreement was signed on the second day of the conference?")
    assert spec.lacks("The announcement came during the two-day conference on December 6-7, 2023.")
    assert not spec.lacks("On the second day, a memorandum was signed.")
    assert not spec.lacks("A memorandum was signed.", None, "The second day opened with a speech. ")  # just before
    assert not Specifiers.of("When does season 4 of The Crown premiere?").lacks(
        "Nov 15, 2020 ...", None, "", " The Crown season 4 premieres on Netflix."
    )  # just after a dateline
    # One date names a day; a range does not.
    first = Specifiers.of("How large was the aid package announced on the conference's first day?")
    assert not first.lacks("On December 6, 2023, the US announced a package of $175 million.")


def test_an_exact_amount_needs_a_count():
    spec = Specifiers.of("What exact dollar amount of military aid did the blocked bill propose?")
    assert spec.lacks("Republicans blocked a critical bill proposing billions in military aid.")
    assert not spec.lacks("The bill proposed $61 billion in military aid.")
    # Not asked exactly, "billions" answers.
    assert not Specifiers.of("How much aid did the bill propose?").lacks("The bill proposed billions in aid.")


def test_another_party_and_a_country_that_only_receives():
    spec = Specifiers.of("Which Democratic senator blocked the aid bill?")
    assert spec.contradicted_by("US Congressional Republicans blocked a critical bill.")
    assert not spec.contradicted_by("Disagreements between Joe Biden's Democrats and Republicans stalled the bill.")
    libdem = Specifiers.of("Which Liberal Democrats voted for the bill?")
    assert libdem.contradicted_by("The Democrats voted for the bill.")  # "Liberal Democrats" is not "Democrats"
    assert not libdem.contradicted_by("Two Liberal Democrats voted for the bill.")
    congo = Specifiers.of("Who governs the Democratic Republic of the Congo?")
    assert all(m.kind != "party" for m in congo.asked)  # a country's name, no party
    spent = Specifiers.of("How much did Ukraine allocate to defence production in 2023?")
    assert spent.contradicted_by("The US government announced a new aid package for Ukraine of $175 million.")
    assert not spent.contradicted_by("Ukraine will allocate an unprecedented budget.")


def test_the_next_one_needs_what_comes_later():
    spec = Specifiers.of("When is the next defence industry conference?")
    assert spec.lacks("The conference took place in Washington on December 6-7, 2023.")
    assert not spec.lacks("The next conference will be held in Kyiv in June 2024.")
    assert not Specifiers.of("When was the conference?").lacks("It took place on December 6-7, 2023.")


def test_what_came_before_needs_an_earlier_time():
    spec = Specifiers.of("What position did Rustem Umerov hold before becoming Ukraine's defence minister?")
    assert spec.lacks("Rustem Umerov, Minister of Defence of Ukraine, emphasized the importance of the meeting.")
    assert not spec.lacks("Before becoming minister, Rustem Umerov headed the State Property Fund.")
    assert not spec.lacks("Umerov, formerly head of the State Property Fund, was appointed in September.")
    previous = Specifiers.of("What was the president of HHC's previous job title?")  # a SQuAD question
    assert not previous.lacks("The president of HHC is Ramanathan Raju, a surgeon and former CEO of Cook County.")
    assert previous.lacks("The president of HHC is Ramanathan Raju, a surgeon.")
    predecessor = Specifiers.of("Who was Britain's Foreign Secretary before David Cameron?")
    assert predecessor.lacks("British Foreign Secretary David Cameron urged Republicans to avoid withholding support.")
    assert not predecessor.lacks("Cameron replaced James Cleverly as foreign secretary in November.")
    # a calibration question of SQuAD's ("… two James Bond movies in a row before Mendes?")
    assert not Specifiers.of("Who was the last person to direct two Bond films in a row before Mendes?").lacks(
        "Mendes became the first director to oversee two consecutive Bond films since John Glen in 1989."
    )
    assert not Specifiers.of("Who was at the summit before the vote?").earlier  # no name after "before"
    assert not Specifiers.of("What post does Rustem Umerov hold?").lacks(
        "Rustem Umerov, Minister of Defence of Ukraine, emphasized the importance of the meeting."
    )


def test_a_value_needs_a_number_and_a_share_a_share():
    value = Specifiers.of("What was the value of the aid package that included anti-armor missiles?")
    assert value.lacks("In particular, it includes air defense munitions and anti-armor missiles.")
    assert not value.lacks("The US announced a new military aid package for Ukraine of $175 million.")
    share = Specifiers.of("What share of Ukraine's GDP goes to defence spending?")
    assert share.lacks("The USA has committed more than $29,8 billion in security assistance to Ukraine.")
    for stated in ("Defence takes 22% of GDP.", "Three out of five residents were graduates.", "Half of it."):
        assert not share.lacks(stated), stated


def test_a_connective_or_a_caption_label_is_no_short_answer():
    spec = Specifiers.of("What is the name of the bill the Republicans blocked?")
    sentence = "Despite these warnings, Republicans blocked a critical bill."
    for short in ("Despite", "However", "Photo", "Read more"):
        assert spec.lacks(sentence, short), short
    assert not spec.lacks(sentence, "a critical bill")
    assert not spec.lacks(sentence, "read")  # a verb inside the sentence may be an answer


def test_a_company_asked_for_is_no_government_body_or_head_count():
    sentence = "The US Department of Defense and industry partners will provide technical data."
    spec = Specifiers.of("Which American firms will supply the technical data?")
    assert spec.lacks(sentence, "the US Department of Defense and industry partners")
    assert spec.lacks(sentence, "over 300 representatives")
    assert spec.lacks(sentence, "about 350")  # a bare number, as a quiz option
    assert not spec.lacks(sentence, "Lockheed Martin")
    assert not Specifiers.of("In what year did airlines first carry iPods?").company


def test_a_person_asked_for_is_no_organisation():
    sentence = "The US Department of Defense and the Ministry of Defence of Ukraine signed a statement."
    for question in (
        "Who heads the Ministry for Strategic Industries?",
        "Who is the national security adviser of the United States?",
        "Which Pentagon officials signed the statement?",
        "What is the name of the Defense Department official who signed it?",
    ):
        spec = Specifiers.of(question)
        assert spec.lacks(sentence, "the US Department of Defense"), question
        assert not spec.lacks(sentence, "Lloyd Austin"), question
        assert not spec.lacks(sentence), question  # no short answer: nothing to check
        assert spec.lacks(sentence, "first lady"), question  # no name in it
    assert Specifiers.of("Who leads the interagency team?").lacks(sentence, "the Departments of State and Defense")
    # "Who signed …" may be answered by an organisation.
    assert not Specifiers.of("Who signed the statement?").lacks(sentence, "the US Department of Defense")


def test_a_country_the_article_never_names():
    article = (
        "Ukraine and the US sign a pact\n\nBritish Foreign Secretary David Cameron urged Republicans "
        "not to withhold aid. Despite these warnings, US Congressional Republicans blocked a critical bill."
    )
    sentence = "Despite these warnings, US Congressional Republicans blocked a critical bill."
    spec = Specifiers.of("What warning did the French foreign minister give US Republicans?")
    assert spec.lacks(sentence, "a critical bill", article=article)
    # Named in the article under another spelling (a demonym, "the United Kingdom" for "British").
    for question in (
        "What did the United Kingdom's foreign secretary urge Republicans to do?",
        "What did Ukrainian officials sign?",
        "What did America's Republicans block?",
    ):
        assert not Specifiers.of(question).lacks(sentence, "a critical bill", article=article), question
    assert not spec.lacks(sentence, "a critical bill")  # no article given: nothing to check


def test_a_year_or_number_the_article_never_states():
    assert numbers_in("in 1974, the 1100s, $29.8 billion, Season 11, Q1 2021, 3 things") == {
        "1974", "1100", "298", "11", "2021"
    }  # fmt: skip
    assert numbers_in("20th Century Fox, the 92nd Academy Awards, the 1st") == set()  # ordinals: often words
    assert numbers_in("more than $29,8 billion") == {"298"}  # a decimal comma is the same number
    article = "Turing\n\nAlan Turing described his machine in 1936. He died in 1954."
    sentence = "Alan Turing described his machine in 1936."
    assert Specifiers.of("What device did Alan Turing invent in 1974?").lacks(sentence, "machine", article=article)
    assert not Specifiers.of("What did Alan Turing describe in 1936?").lacks(sentence, "machine", article=article)
    assert not Specifiers.of("What did Turing describe 18 years before he died?").lacks(sentence, article="")
    # An article with no date at all is the time scope's to keep (at a lower confidence).
    undated = "Harbour prize\n\nThe Harbour Prize for poetry was awarded to Mira Esteves."
    assert not Specifiers.of("Who won the Harbour Prize in 2024?").lacks("The Harbour Prize …", article=undated)
    assert Specifiers.of("Who won the Harbour Prize 12 times?").lacks("The Harbour Prize …", article=undated)


def test_a_nomination_is_no_win():
    spec = Specifiers.of("What movie won the Oscar for Best Animated Film in 2020?")
    assert spec.contradicted_by("The Oscars 2020 Animated Feature Film nominations have been announced!")
    assert not spec.contradicted_by("Toy Story 4 won the Oscar for best animated feature, beating four nominees.")
    # A winner was nominated too: a nomination asked for is not checked.
    assert not Specifiers.of("Which films were nominated for Best Picture?").contradicted_by("Parasite won.")


def test_another_edition_of_a_numbered_title():
    spec = Specifiers.of("When was Xenoblade Chronicles 2 released?")
    assert spec.editions == (("Xenoblade Chronicles", "2"),)
    assert spec.contradicted_by("The album for Xenoblade Chronicles: Definitive Edition came out on 2 August 2023.")
    assert spec.contradicted_by("Xenoblade Chronicles 3 was released in July 2022.")
    assert not spec.contradicted_by("Xenoblade Chronicles 2 was released on December 1, 2017.")
    # Named without a number, it may be the asked edition ("the Super Bowl" for Super Bowl 50).
    assert not spec.contradicted_by("Xenoblade Chronicles sold well in Japan.")
    for question in ("Who won the Oscar in 2020?", "What happened on December 6, 2023?", "When did Season 11 air?"):
        assert Specifiers.of(question).editions == (), question
    # Typed in lower case: the words right before the number, none of the question's own.
    lower = Specifiers.of("when was xenoblade chronicles 2 released?")
    assert lower.editions == (("xenoblade chronicles", "2"),)
    assert lower.contradicted_by("The album for Xenoblade Chronicles: Definitive Edition came out on 2 August 2023.")
    assert Specifiers.of("who won super bowl 50?").editions == (("super bowl", "50"),)
    for question in ("how many people died in 2 attacks?", "what happened on day 2?", "top 10 songs of 2020?"):
        assert Specifiers.of(question).editions == (), question


@pytest.fixture(scope="module")
def pipeline(seed_index, embedder):
    settings, store = seed_index
    return build_pipeline(settings, store, embedder, llm=None)


def test_over_the_seeds(pipeline):
    """Real index, real model: the near misses abstain, the plain questions are answered,
    and a sentence read for an amount still shows its list to LLM mode's candidates."""
    for question in (
        "Who is Russia's foreign minister?",  # the British Foreign Secretary's sentence is never read
        "When did Rustem Umerov become defence minister?",  # the chosen sentence holds no time
        "Who chairs Ukraine's Ministry for Strategic Industries?",  # an organisation is no person
        # the seeds name his post now, never an earlier one
        "What military rank did Lloyd Austin hold before becoming Secretary of Defense?",
    ):
        assert ask(pipeline, question).abstained, question
    # No seed article says 2014: the chosen sentence's article never states the year asked.
    assert ask(pipeline, "How much security assistance has the US committed to Ukraine since 2014?").abstained
    res = ask(pipeline, "How much was the military aid package the US announced on December 6, 2023?")
    assert not res.abstained and "$175 million" in res.quotes[0].text
    res = ask(pipeline, "Who is Britain's foreign secretary?")
    assert not res.abstained and "David Cameron" in res.quotes[0].text


# Ordinary questions the session-19 rules must not refuse (a review's counter-examples).
NOT_LACKING = [
    ("Which company suffered a data breach?", "The breach hit 23andMe.", "23andMe"),
    ("Which company agreed to pay $6bn?", "3M agreed to pay $6bn.", "3M"),
    ("What percentage of companies use AI?", "40% of companies use AI.", "40%"),
    ("What must the company pay in fines?", "It must pay $5 million.", "$5 million"),
    (
        "Who is the Senate majority leader?",
        "Senate Majority Leader Chuck Schumer spoke.",
        "Senate Majority Leader Chuck Schumer",
    ),
    ("Which general election did Labour win?", "Labour won the 2024 election.", "2024"),
    ("Which company laid off 2,200 workers?", "Indeed laid off 2,200 workers.", "Indeed"),
    ("What proportion of voters backed the plan?", "Two-thirds of voters backed the plan.", None),
    ("When is the next general election?", "Voters go to the polls on 4 July.", None),
    ("What happened on the first day of the summit?", "On the opening day of the summit, leaders agreed a deal.", None),
    ("What did Obama do in his second term?", "Obama signed the Paris agreement in 2016.", None),
    ("Who led the protests?", "Students led the protests.", "students"),
]
NOT_CONTRADICTED = [
    ("Did Arsenal beat Chelsea 3-1?", "Chelsea 1-3 Arsenal: the match report."),
    ("What is Covid 19?", "Covid: cases rise by 20%."),
    ("What did Article 50 trigger?", "The particle 5 was small."),
    ("Who won Best Picture at the Oscars?", "Oppenheimer, nominated for 13 awards, took home Best Picture on Sunday."),
    ("How much has Germany given?", "Ukraine has received 17 billion euros in military aid from Germany."),
    ("What did the Social Democrats pledge?", "The Christian Democrats pledged tax cuts."),
    # A country the question names beside something else than the office asked ("money for
    # Ukraine") is no office's country: the UK's secretary is answered in a sentence naming the US.
    (
        "Who is the UK foreign secretary that pressed Republicans not to hold back more money for Ukraine?",
        "British Foreign Secretary David Cameron, during a diplomatic visit to the US, urged Republicans to "
        "avoid withholding additional financial support.",
    ),
]


@pytest.mark.parametrize(("question", "sentence", "short"), NOT_LACKING)
def test_ordinary_answers_are_not_refused(question, sentence, short):
    assert not Specifiers.of(question).lacks(sentence, short)


@pytest.mark.parametrize(("question", "sentence"), NOT_CONTRADICTED)
def test_ordinary_sentences_are_still_read(question, sentence):
    assert not Specifiers.of(question).contradicted_by(sentence)
