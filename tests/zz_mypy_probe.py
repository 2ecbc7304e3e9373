from tests.factories import OrganizationFactory, UserFactory
org = OrganizationFactory.create(name="x")
reveal_type(org)
u = UserFactory.create()
reveal_type(u)
